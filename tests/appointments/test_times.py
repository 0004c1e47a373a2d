"""Times: slots only inside the booking window, nothing changed once an appointment started, and
no no-show before the start plus the centre's grace for late arrivals."""

from __future__ import annotations

import dataclasses
from datetime import date

from tests.appointments.conftest import COMMERCIAL, HENGQIN, SOCIAL, TUESDAY, WEDNESDAY, Desk, at, days

MONDAY = date(2026, 11, 30)  # the desk fixture's today; its clock says 09:00 in Hengqin
GRACE = 10  # Hengqin's late_grace_minutes (config/jurisdictions/macao.toml)


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
    assert await desk.slots(MONDAY) == []  # today: bookable from tomorrow
    status, body = await desk.api.get(
        f"/v1/centres/{HENGQIN}/slots?service={COMMERCIAL}&from={MONDAY}&days=3"
    )
    assert status == 200
    assert {s["start"][:10] for s in body["items"]} == {TUESDAY.isoformat(), WEDNESDAY.isoformat()}
    last = MONDAY + days(60)  # max_days_ahead
    assert await desk.slots(last) != []
    assert await desk.slots(last + days(1)) == []


async def test_a_slot_that_has_started_is_not_offered_today_nor_bookable(desk: Desk) -> None:
    set_service(desk, SOCIAL, min_days_ahead=0)
    desk.clock.advance(minutes=5)  # 09:05: the 09:00 slot has started
    offered = [s["start"] for s in await desk.slots(MONDAY, SOCIAL)]
    assert offered[0] == at(MONDAY, "09:15")
    status, err = await desk.book(at(MONDAY, "09:00"), SOCIAL)
    assert (status, err["error"]["code"]) == (400, "outside_booking_window")
    status, body = await desk.book(offered[0], SOCIAL)
    assert status == 201, body


async def test_every_slot_offered_can_be_booked(desk: Desk) -> None:
    for day in (MONDAY, TUESDAY, MONDAY + days(60)):
        for slot in (await desk.slots(day))[:1]:
            status, body = await desk.book(slot["start"], rider=await desk.another_rider(f"r{day.day}"))
            assert status == 201, (slot, body)


async def test_a_reschedule_after_the_start_is_refused(desk: Desk) -> None:
    first = await desk.booked(at(TUESDAY, "09:00"))
    second = await desk.booked(at(TUESDAY, "09:30"))
    desk.clock.advance(days=1, seconds=-1)  # Tuesday 08:59:59: still possible
    status, moved = await desk.rider.post(
        f"/v1/appointments/{first['id']}/reschedule", {"start": at(WEDNESDAY, "10:00")}
    )
    assert status == 201, moved
    desk.clock.advance(minutes=31)  # 09:30:59: the second one has started
    status, err = await desk.rider.post(
        f"/v1/appointments/{second['id']}/reschedule", {"start": at(WEDNESDAY, "11:00")}
    )
    assert (status, err["error"]["code"]) == (409, "appointment_started")
    status, err = await desk.rider.post(f"/v1/appointments/{second['id']}/cancellation")
    assert (status, err["error"]["code"]) == (409, "appointment_started")


async def test_no_show_is_refused_before_the_start_plus_the_grace(desk: Desk) -> None:
    body = await desk.booked(at(TUESDAY, "09:00"))
    counter = await desk.counter()
    desk.clock.advance(days=1, minutes=GRACE - 1)  # Tuesday 09:09
    path = f"/v1/counter/appointments/{body['id']}/outcome"
    status, err = await counter.post(path, {"outcome": "no_show"})
    assert (status, err["error"]["code"]) == (409, "no_show_too_early")
    assert err["error"]["details"]["from"] == at(TUESDAY, "09:10")
    desk.clock.advance(minutes=1)
    status, done = await counter.post(path, {"outcome": "no_show"})
    assert (status, done["status"]) == (200, "no_show")
