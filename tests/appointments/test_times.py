"""Times: slots only inside the booking window, nothing changed once an appointment started, and
no no-show before the start plus the centre's grace for late arrivals."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import date, datetime, timedelta
from typing import Any

from tests.appointments.conftest import (
    COMMERCIAL,
    DAY_AFTER,
    HENGQIN,
    SOCIAL,
    TODAY,
    TOMORROW,
    Desk,
    at,
    days,
)

GRACE = 10  # Hengqin's late_grace_minutes (config/jurisdictions/macao.toml)


def set_clock(desk: Desk, day: date, hhmm: str, seconds: int = 0) -> None:
    """The desk's clock at `hhmm` in Hengqin on `day` (plus `seconds`)."""
    desk.clock.set(datetime.fromisoformat(at(day, hhmm)) + timedelta(seconds=seconds))


def open_day(desk: Desk, day: date) -> bool:
    return bool(desk.services.appointments.catalogue.centre(HENGQIN).hours.get(day.weekday()))


def set_service(desk: Desk, service_id: str, **changes: object) -> None:
    """A service's settings, as if config said so (adapter blocks cannot be overridden in tests)."""
    catalogue = desk.services.appointments.catalogue
    service = dataclasses.replace(catalogue.services[service_id], **changes)
    catalogue.services[service_id] = service
    agency = catalogue.agencies[service.agency_id]
    catalogue.agencies[agency.id] = dataclasses.replace(
        agency, services={**agency.services, service_id: service}
    )


async def test_slots_are_offered_only_inside_the_booking_window(desk: Desk) -> None:
    assert await desk.slots(TODAY) == []  # today: bookable from tomorrow
    status, body = await desk.api.get(f"/v1/centres/{HENGQIN}/slots?service={COMMERCIAL}&from={TODAY}&days=3")
    assert status == 200
    assert {s["start"][:10] for s in body["items"]} == {TOMORROW.isoformat(), DAY_AFTER.isoformat()}
    # A window whose last day and the day after are opening days, so the edge shows.
    window = next(n for n in range(60, 50, -1) if all(open_day(desk, TODAY + days(n + i)) for i in (0, 1)))
    set_service(desk, COMMERCIAL, max_days_ahead=window)
    last = TODAY + days(window)
    assert await desk.slots(last) != []
    assert await desk.slots(last + days(1)) == []


async def test_a_slot_that_has_started_is_not_offered_today_nor_bookable(desk: Desk) -> None:
    set_service(desk, SOCIAL, min_days_ahead=0)
    set_clock(desk, TODAY, "14:05")  # the 14:00 slot has started
    offered = [s["start"] for s in await desk.slots(TODAY, SOCIAL)]
    assert offered[0] == at(TODAY, "14:15")
    status, err = await desk.book(at(TODAY, "14:00"), SOCIAL)
    assert (status, err["error"]["code"]) == (400, "outside_booking_window")
    status, body = await desk.book(offered[0], SOCIAL)
    assert status == 201, body


async def test_every_slot_offered_can_be_booked(desk: Desk) -> None:
    for day in (TOMORROW, DAY_AFTER, TODAY + days(59)):  # the last a Saturday: open mornings
        offered = await desk.slots(day)
        assert offered, day
        slot = offered[0]
        status, body = await desk.book(slot["start"], rider=await desk.another_rider(f"r{day.day}"))
        assert status == 201, (slot, body)


async def test_a_reschedule_after_the_start_is_refused(desk: Desk) -> None:
    first = await desk.booked(at(TOMORROW, "09:00"))
    second = await desk.booked(at(TOMORROW, "09:30"))
    set_clock(desk, TOMORROW, "09:00", seconds=-1)  # 08:59:59: still possible
    status, moved = await desk.rider.post(
        f"/v1/appointments/{first['id']}/reschedule", {"start": at(DAY_AFTER, "10:00")}
    )
    assert status == 201, moved
    desk.clock.advance(minutes=31)  # 09:30:59: the second one has started
    status, err = await desk.rider.post(
        f"/v1/appointments/{second['id']}/reschedule", {"start": at(DAY_AFTER, "11:00")}
    )
    assert (status, err["error"]["code"]) == (409, "appointment_started")
    status, err = await desk.rider.post(f"/v1/appointments/{second['id']}/cancellation")
    assert (status, err["error"]["code"]) == (409, "appointment_started")


async def rescheduled_while_the_day_is_locked(
    desk: Desk, pg: Any, appointment: dict[str, Any], start: str, meanwhile: str | None
) -> tuple[int, Any]:
    """Reschedule `appointment` to `start` while another transaction holds the desks' lock of
    `start`'s day (a booker placing someone); the clock moves to `meanwhile` (when given) while
    the reschedule waits for it."""
    day = datetime.fromisoformat(start).date()
    await pg.execute("BEGIN")  # the test's own connection holds the lock
    await pg.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('desks|' || $1 || '|' || $2, 0))",
        HENGQIN,
        day.isoformat(),
    )
    moving = asyncio.ensure_future(
        desk.rider.post(f"/v1/appointments/{appointment['id']}/reschedule", {"start": start})
    )
    try:
        for _ in range(500):  # until the reschedule waits for the lock
            if await pg.fetchval(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ):
                break
            assert not moving.done(), moving.result()
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("the reschedule never waited for the day's lock")
        if meanwhile is not None:
            set_clock(desk, TODAY, meanwhile)
    finally:
        await pg.execute("COMMIT")
    return await moving


async def test_a_reschedule_checks_the_new_start_under_its_locks_not_before(desk: Desk, pg: Any) -> None:
    set_service(desk, COMMERCIAL, min_days_ahead=0)
    set_clock(desk, TODAY, "14:05")
    first = await desk.booked(at(TOMORROW, "10:00"))
    second = await desk.booked(at(TOMORROW, "10:30"))
    # Negative control: waiting for the lock alone changes nothing, today's 15:00 is taken.
    status, moved = await rescheduled_while_the_day_is_locked(desk, pg, first, at(TODAY, "15:00"), None)
    assert status == 201, moved
    # While it waits, 14:30 passes: the slot has started by the time the desks are the reschedule's.
    status, err = await rescheduled_while_the_day_is_locked(desk, pg, second, at(TODAY, "14:30"), "14:31")
    assert status == 400 and err["error"]["code"] == "outside_booking_window", err
    assert await pg.fetchval("SELECT status FROM appointments WHERE id = $1", second["id"]) == "booked"


async def test_no_show_is_refused_before_the_start_plus_the_grace(desk: Desk) -> None:
    body = await desk.booked(at(TOMORROW, "09:00"))
    counter = await desk.counter()
    set_clock(desk, TOMORROW, "09:00", seconds=(GRACE - 1) * 60)  # 09:09
    path = f"/v1/counter/appointments/{body['id']}/outcome"
    status, err = await counter.post(path, {"outcome": "no_show"})
    assert (status, err["error"]["code"]) == (409, "no_show_too_early")
    assert err["error"]["details"]["from"] == at(TOMORROW, "09:10")
    desk.clock.advance(minutes=1)
    status, done = await counter.post(path, {"outcome": "no_show"})
    assert (status, done["status"]) == (200, "no_show")


async def test_recalls_make_no_no_show_before_the_start_plus_the_grace(desk: Desk) -> None:
    """The third call without showing up is a no-show only once the grace is over: before, the
    person is called again and stays called, as `outcome` refuses no_show then."""
    body = await desk.booked(at(TOMORROW, "10:00"))
    set_clock(desk, TOMORROW, "09:30")
    counter = await desk.counter()
    status, _ = await counter.post("/v1/counter/check-ins", {"payload": body["qr"]["payload"]})
    assert status == 200
    status, called = await counter.post("/v1/counter/queue/next", {"counter": "A1"})
    assert status == 200 and called["appointment"]["id"] == body["id"], called
    recall = f"/v1/counter/appointments/{body['id']}/recall"
    for expected in (2, 3, 4, 5):
        desk.clock.advance(seconds=20)
        status, again = await counter.post(recall)
        assert (status, again["status"], again["call_count"]) == (200, "called", expected), again
    set_clock(desk, TOMORROW, "10:00", seconds=GRACE * 60 - 1)  # 10:09:59
    status, again = await counter.post(recall)
    assert (status, again["status"]) == (200, "called")
    desk.clock.advance(seconds=1)
    status, gone = await counter.post(recall)
    assert (status, gone["status"]) == (200, "no_show")


async def test_appointment_times_are_answered_in_the_centres_zone(desk: Desk) -> None:
    """Slots are listed as Hengqin wall times (+08:00); the booking, the rider's list, the
    reschedule and the counter's day list answer the same wall times, never UTC."""
    body = await desk.booked(at(TOMORROW, "09:30"))
    assert (body["start"], body["end"]) == (at(TOMORROW, "09:30"), at(TOMORROW, "10:00"))
    _, fetched = await desk.rider.get(f"/v1/appointments/{body['id']}")
    assert fetched["start"] == at(TOMORROW, "09:30")
    assert fetched["created_at"].endswith("+08:00")
    _, listed = await desk.rider.get("/v1/appointments")
    assert [a["start"] for a in listed["items"]] == [at(TOMORROW, "09:30")]
    status, moved = await desk.rider.post(
        f"/v1/appointments/{body['id']}/reschedule", {"start": at(TOMORROW, "10:30")}
    )
    assert status == 201, moved
    assert moved["start"] == at(TOMORROW, "10:30")
    counter = await desk.counter()
    _, day = await counter.get(f"/v1/counter/appointments?date={TOMORROW.isoformat()}")
    assert {a["start"] for a in day["items"]} == {at(TOMORROW, "09:30"), at(TOMORROW, "10:30")}
