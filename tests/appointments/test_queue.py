"""The queue in slot order, the centre's rules for early and late arrivals, and walk-ins served
in the gaps (issue 11, items 5 and 6)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from tests.appointments.conftest import COMMERCIAL, HENGQIN, TOMORROW, Desk, at, check_in
from tests.support import Api

TRADEMARK = "mo_trademark_registration"  # 20 minutes, served only at A1


def set_clock(desk: Desk, hhmm: str) -> None:
    desk.clock.set(datetime.fromisoformat(at(TOMORROW, hhmm)))


def set_queue(desk: Desk, **rules: Any) -> None:
    catalogue = desk.services.appointments.catalogue
    centre = catalogue.centres[HENGQIN]
    catalogue.centres[HENGQIN] = dataclasses.replace(centre, queue=dataclasses.replace(centre.queue, **rules))


async def book_people(desk: Desk, times: list[str], service: str = COMMERCIAL) -> dict[str, dict[str, Any]]:
    out = {}
    for hhmm in times:
        rider = await desk.another_rider(f"person-{hhmm.replace(':', '')}-{service[-5:]}")
        out[hhmm] = await desk.booked(at(TOMORROW, hhmm), service, rider)
    return out


async def call(counter: Api, desk_id: str) -> dict[str, Any] | None:
    status, body = await counter.post("/v1/counter/queue/next", {"counter": desk_id})
    assert status == 200, body
    appointment: dict[str, Any] | None = body["appointment"]
    return appointment


async def test_people_are_called_by_appointment_time_not_arrival_and_not_too_early(desk: Desk) -> None:
    people = await book_people(desk, ["09:00", "10:00", "14:00"])
    counter = await desk.counter()
    set_clock(desk, "08:40")
    for hhmm in ("14:00", "10:00", "09:00"):  # the afternoon booking arrives first
        await check_in(counter, people[hhmm])
    first = await call(counter, "A1")
    assert first is not None and first["id"] == people["09:00"]["id"]
    # 10:00 and 14:00 wait until 30 minutes before their time (early_minutes), even with a desk free.
    assert await call(counter, "A2") is None
    set_clock(desk, "09:30")
    second = await call(counter, "A2")
    assert second is not None and second["id"] == people["10:00"]["id"]
    assert await call(counter, "A4") is None
    set_clock(desk, "13:30")
    third = await call(counter, "A4")
    assert third is not None and third["id"] == people["14:00"]["id"]


async def test_late_arrivals_go_to_the_end_of_the_queue(desk: Desk) -> None:
    people = await book_people(desk, ["10:00", "10:30", "11:00"])
    counter = await desk.counter()
    set_clock(desk, "10:05")
    await check_in(counter, people["10:30"])  # early, on time
    set_clock(desk, "10:11")
    await check_in(counter, people["10:00"])  # 11 minutes late: past the 10-minute grace
    set_clock(desk, "10:31")
    await check_in(counter, people["11:00"])  # early, on time
    order = [await call(counter, d) for d in ("A1", "A2", "A4")]
    assert [p["id"] if p else None for p in order] == [
        people["10:30"]["id"],
        people["11:00"]["id"],
        people["10:00"]["id"],  # late: after everyone on time
    ]


async def test_a_centre_that_refuses_late_arrivals_refuses_their_check_in(desk: Desk) -> None:
    set_queue(desk, late_arrivals="refused")
    people = await book_people(desk, ["10:00", "10:30"])
    counter = await desk.counter()
    set_clock(desk, "10:10")  # exactly the grace: still on time
    await check_in(counter, people["10:00"])
    set_clock(desk, "10:41")
    late = people["10:30"]
    status, err = await counter.post(
        f"/v1/counter/appointments/{late['id']}/check-in", {"payload": late["qr"]["payload"]}
    )
    assert (status, err["error"]["code"]) == (409, "arrived_late")
    assert err["error"]["details"]["late_from"].startswith(f"{TOMORROW.isoformat()}T10:40:00+08:00")


async def walk_in(counter: Api, service: str = TRADEMARK) -> dict[str, Any]:
    status, body = await counter.post("/v1/counter/walk-ins", {"service_id": service})
    assert status == 201, body
    return body


async def test_walk_ins_get_a_number_and_are_served_only_in_the_gaps(desk: Desk) -> None:
    # The three desks that do commercial registration (A1, A2, A4) are all booked 10:00-10:30.
    people = await book_people(desk, ["10:00"])
    for i in range(2):
        rider = await desk.another_rider(f"commercial-{i}")
        await desk.booked(at(TOMORROW, "10:00"), COMMERCIAL, rider)
    counter = await desk.counter()
    set_clock(desk, "09:30")
    first = await walk_in(counter)
    assert first["status"] == "checked_in" and first["queue_number"] == 1
    assert await call(counter, "A3") is None  # A3 does no trademarks
    called = await call(counter, "A1")  # 09:30-09:50 is free at A1
    assert called is not None and called["id"] == first["appointment_id"] and called["walk_in"]
    # No name for a walk-in, and none shown where the data stays home.
    assert called["holder_name"] is None and called["number_masked"] is None
    status, _ = await counter.post(f"/v1/counter/appointments/{called['id']}/outcome", {"outcome": "served"})
    assert status == 200

    set_clock(desk, "09:45")
    second = await walk_in(counter)
    assert second["queue_number"] == 2
    # 09:45-10:05 would take the time of a 10:00 booking, and no other desk can take it over.
    assert await call(counter, "A1") is None
    # Someone with an appointment who is due goes before any walk-in.
    await check_in(counter, people["10:00"])
    due = await call(counter, "A1")
    assert due is not None and due["id"] == people["10:00"]["id"]
    set_clock(desk, "10:30")  # the 10:00 bookings' time is over: a gap
    later = await call(counter, "A1")
    assert later is not None and later["id"] == second["appointment_id"]
    status, day = await counter.get(f"/v1/counter/appointments?date={TOMORROW}")
    walk_ins = [i for i in day["items"] if i["walk_in"]]
    assert [(i["queue_number"], i["status"]) for i in walk_ins] == [(1, "served"), (2, "called")]


async def test_walk_ins_only_while_open_and_for_a_service_of_the_centre(desk: Desk) -> None:
    counter = await desk.counter()
    set_clock(desk, "12:30")  # lunch
    status, err = await counter.post("/v1/counter/walk-ins", {"service_id": TRADEMARK})
    assert (status, err["error"]["code"]) == (409, "centre_closed_now")
    set_clock(desk, "14:00")
    status, err = await counter.post("/v1/counter/walk-ins", {"service_id": "hq_social_insurance"})
    assert (status, err["error"]["code"]) == (400, "service_not_offered")
    status, err = await counter.post("/v1/counter/walk-ins", {})
    assert status == 400
    status, _ = await desk.rider.post("/v1/counter/walk-ins", {"service_id": TRADEMARK})
    assert status in (401, 403)


async def test_the_desk_that_calls_someone_holds_their_time(desk: Desk, pg: Any) -> None:
    # The three desks that do commercial registration (A1, A2, A4) each hold one at 10:00.
    people = [
        await desk.booked(at(TOMORROW, "10:00"), COMMERCIAL, await desk.another_rider(f"at-ten-{i}"))
        for i in range(3)
    ]

    async def desks() -> dict[str, str]:
        rows = await pg.fetch("SELECT id, counter_id FROM appointments WHERE NOT walk_in")
        return {r["id"]: r["counter_id"] for r in rows}

    before = await desks()
    assert sorted(before.values()) == ["A1", "A2", "A4"]
    counter = await desk.counter()
    set_clock(desk, "09:40")
    numbers = {p["id"]: (await check_in(counter, p))["queue_number"] for p in people}
    # They are called in the order they checked in, each by a desk the ledger gave to another:
    # the called person's time moves to the calling desk, and whoever held it there moves to a
    # desk left free.
    callers = [before[people[1]["id"]], before[people[2]["id"]], before[people[0]["id"]]]
    for person, calling in zip(people, callers, strict=True):
        called = await call(counter, calling)
        assert called is not None and called["id"] == person["id"] and called["called_by"] == calling
        now = await desks()
        assert now[called["id"]] == calling
        assert sorted(now.values()) == ["A1", "A2", "A4"]  # one each, as before
    assert await desks() != before  # negative control: the calls did move someone
    status, shown = await counter.get("/v1/counter/display")
    assert status == 200
    assert {d["counter"]: d["queue_number"] for d in shown["desks"]} == {
        calling: numbers[p["id"]] for p, calling in zip(people, callers, strict=True)
    } | {"A3": None}


async def test_a_call_never_moves_someone_already_called_off_their_desk(desk: Desk, pg: Any) -> None:
    """A desk calling again while the person it called is still `called` (not yet served or a
    no-show) does not take that person's desk for the next one: whoever is called keeps their
    desk (issue 11 item 1). Before, the earlier caller was moved to make room."""
    people = [
        await desk.booked(at(TOMORROW, "10:00"), COMMERCIAL, await desk.another_rider(f"called-{i}"))
        for i in range(2)
    ]

    async def desk_of(person: dict[str, Any]) -> str:
        return str(await pg.fetchval("SELECT counter_id FROM appointments WHERE id = $1", person["id"]))

    before = {p["id"]: await desk_of(p) for p in people}
    counter = await desk.counter()
    set_clock(desk, "09:40")
    for person in people:
        await check_in(counter, person)
    calling = before[people[0]["id"]]
    first = await call(counter, calling)
    assert first is not None and first["id"] == people[0]["id"]
    second = await call(counter, calling)  # the same desk again: the next waiting person
    assert second is not None and second["id"] == people[1]["id"] and second["called_by"] == calling
    assert {p["id"]: await desk_of(p) for p in people} == before  # nobody moved


async def test_a_call_leaves_the_desks_as_they_are_when_the_calling_desk_is_not_free_then(
    desk: Desk, pg: Any
) -> None:
    # A1 holds a trademark registration at 10:00, which no other desk does.
    await desk.booked(at(TOMORROW, "10:00"), TRADEMARK, await desk.another_rider("trademark"))
    person = await desk.booked(at(TOMORROW, "10:00"), COMMERCIAL, await desk.another_rider("commercial"))
    held = await pg.fetchval("SELECT counter_id FROM appointments WHERE id = $1", person["id"])
    assert held in ("A2", "A4")
    counter = await desk.counter()
    set_clock(desk, "09:40")
    await check_in(counter, person)
    called = await call(counter, "A1")  # called early to A1; its 10:00 stays the trademark's
    assert called is not None and called["id"] == person["id"] and called["called_by"] == "A1"
    assert await pg.fetchval("SELECT counter_id FROM appointments WHERE id = $1", person["id"]) == held


async def test_a_call_retried_with_its_idempotency_key_is_the_same_person_not_the_next(desk: Desk) -> None:
    """A console whose answer was lost on the way presses again with the same key: the desk gets
    the person it already called (who is on the hall display), not a second one. A fresh key is a
    new call (the negative control: without the key the retry calls the next person)."""
    people = await book_people(desk, ["10:00", "10:30"])
    counter = await desk.counter()
    set_clock(desk, "10:00")
    for hhmm in ("10:00", "10:30"):
        await check_in(counter, people[hhmm])
    key = {"Idempotency-Key": "call-a1-1"}
    status, first = await counter.post("/v1/counter/queue/next", {"counter": "A1"}, headers=key)
    assert status == 200 and first["appointment"]["id"] == people["10:00"]["id"], first
    status, again = await counter.post("/v1/counter/queue/next", {"counter": "A1"}, headers=key)
    assert status == 200 and again == first
    fresh = await call(counter, "A1")
    assert fresh is not None and fresh["id"] == people["10:30"]["id"]
