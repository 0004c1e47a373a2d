"""Blocking time: a desk or the whole centre closed for a time (issue 11, item 7)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import pytest

from tests.appointments.conftest import COMMERCIAL, HENGQIN, SOCIAL, TOMORROW, Desk, at, riders

TRADEMARK = "mo_trademark_registration"  # 20 minutes, served only at A1


async def block(api: Any, **body: Any) -> dict[str, Any]:
    status, answer = await api.post("/v1/counter/blocks", {"reason": "training", **body})
    assert status == 201, answer
    return answer


def remaining(slots: list[dict[str, Any]], hhmm: str) -> int:
    return next(s["remaining"] for s in slots if s["start"] == at(TOMORROW, hhmm))


async def test_a_blocked_desk_takes_no_new_booking_and_opens_again_when_removed(desk: Desk) -> None:
    counter = await desk.counter()
    assert remaining(await desk.slots(TOMORROW, TRADEMARK), "10:00") == 1
    closed = await block(counter, counter="A1", start=at(TOMORROW, "10:00"), end=at(TOMORROW, "11:00"))
    assert (closed["counter"], closed["affected"], closed["moved"]) == ("A1", [], [])
    assert (closed["start"], closed["end"]) == (at(TOMORROW, "10:00"), at(TOMORROW, "11:00"))  # wall times
    slots = await desk.slots(TOMORROW, TRADEMARK)
    assert (
        remaining(slots, "09:40") == 1 and remaining(slots, "10:00") == 0 and remaining(slots, "11:00") == 1
    )
    assert remaining(slots, "10:40") == 0  # 10:40-11:00, the block's last slot
    status, err = await desk.book(at(TOMORROW, "10:20"), TRADEMARK)
    assert (status, err["error"]["code"]) == (409, "slot_full")
    # Commercial registration has two other desks: one fewer, not none.
    assert remaining(await desk.slots(TOMORROW, COMMERCIAL), "10:00") == 2
    status, listed = await counter.get("/v1/counter/blocks")
    assert status == 200 and [b["id"] for b in listed["items"]] == [closed["id"]]
    status, removed = await counter.delete(f"/v1/counter/blocks/{closed['id']}")
    assert status == 200 and removed["removed_at"]
    assert (await counter.get("/v1/counter/blocks"))[1]["items"] == []
    assert (await desk.book(at(TOMORROW, "10:20"), TRADEMARK))[0] == 201


async def test_appointments_in_a_blocked_desks_time_move_to_another_desk_when_one_is_free(
    desk: Desk, pg: Any
) -> None:
    booked = await desk.booked(at(TOMORROW, "10:00"), COMMERCIAL)
    holder = await pg.fetchval("SELECT counter_id FROM appointments WHERE id = $1", booked["id"])
    counter = await desk.counter()
    closed = await block(counter, counter=holder, start=at(TOMORROW, "09:00"), end=at(TOMORROW, "12:00"))
    assert closed["affected"] == []
    [moved] = closed["moved"]
    assert moved["appointment_id"] == booked["id"] and moved["counter"] != holder
    assert (
        await pg.fetchval("SELECT counter_id FROM appointments WHERE id = $1", booked["id"])
        == moved["counter"]
    )
    assert await pg.fetchval("SELECT count(*) FROM appointment_notices") == 0  # nothing to tell


async def test_a_closed_centre_lists_its_appointments_and_tells_each_rider_once(desk: Desk) -> None:
    first = await desk.booked(at(TOMORROW, "10:00"), COMMERCIAL)
    other = await desk.another_rider("second")
    second = await desk.booked(at(TOMORROW, "11:00"), COMMERCIAL, other)
    later = await desk.booked(at(TOMORROW, "14:00"), COMMERCIAL, other)
    counter = await desk.counter()
    closed = await block(
        counter, start=at(TOMORROW, "09:00"), end=at(TOMORROW, "12:00"), reason="typhoon signal 8"
    )
    assert closed["counter"] is None
    assert [a["appointment_id"] for a in closed["affected"]] == [first["id"], second["id"]]
    assert all(a["status"] == "booked" for a in closed["affected"])
    assert remaining(await desk.slots(TOMORROW, COMMERCIAL), "11:30") == 0
    notices = desk.services.appointments.notices
    notifier = desk.services.appointments.reminders.notifier("demo_notifier")
    before = len(notifier.sent)
    assert await notices.drain() == 2
    assert await notices.drain() == 0
    told = list(notifier.sent)[before:]
    me = [(await rider.get("/v1/me"))[1]["id"] for rider in (desk.rider, other)]
    assert sorted(m.notification.recipient for m in told) == sorted(me)
    assert all("typhoon signal 8" in m.notification.body.en for m in told)
    assert all("reschedule" in m.notification.body.en for m in told)
    # Offered a reschedule: the rider moves to an open time.
    status, moved = await desk.rider.post(
        f"/v1/appointments/{first['id']}/reschedule", {"start": at(TOMORROW, "14:30")}
    )
    assert status == 201, moved
    assert later["id"] not in {a["appointment_id"] for a in closed["affected"]}


async def test_a_block_and_bookings_racing_for_the_same_time_never_overlap(unlimited: Desk, pg: Any) -> None:
    desk = unlimited
    people = await riders(desk, 12)
    counter = await desk.counter()
    start = at(TOMORROW, "10:00")

    async def closing() -> Any:
        return await counter.post(
            "/v1/counter/blocks", {"start": start, "end": at(TOMORROW, "10:30"), "reason": "drill"}
        )

    answers = await asyncio.gather(closing(), *(desk.book(start, TRADEMARK, r) for r in people))
    status, closed = answers[0]
    assert status == 201, closed
    booked = [body for status, body in answers[1:] if status == 201]
    assert len(booked) <= 1  # one desk does trademarks
    # Whatever won, a booking that got in before the block is listed; none got in after it.
    assert [a["appointment_id"] for a in closed["affected"]] == [b["id"] for b in booked]
    # Negative control: with the block removed the time takes a booking again.
    await counter.delete(f"/v1/counter/blocks/{closed['id']}")
    if not booked:
        assert (await desk.book(start, TRADEMARK, people[0]))[0] == 201


async def test_blocks_are_validated_and_scoped_to_the_centre(desk: Desk) -> None:
    counter = await desk.counter()
    status, err = await counter.post(
        "/v1/counter/blocks",
        {"counter": "Z9", "start": at(TOMORROW, "10:00"), "end": at(TOMORROW, "11:00"), "reason": "x"},
    )
    assert (status, err["error"]["code"]) == (404, "counter_not_found")
    status, err = await counter.post(
        "/v1/counter/blocks", {"start": at(TOMORROW, "11:00"), "end": at(TOMORROW, "10:00"), "reason": "x"}
    )
    assert status == 400
    status, err = await counter.post("/v1/counter/blocks", {"start": at(TOMORROW, "11:00"), "reason": "x"})
    assert status == 400
    closed = await block(counter, start=at(TOMORROW, "10:00"), end=at(TOMORROW, "11:00"))
    other = await desk.counter("macao_video_counters")
    status, err = await other.delete(f"/v1/counter/blocks/{closed['id']}")
    assert (status, err["error"]["code"]) == (404, "block_not_found")
    assert closed["centre_id"] == HENGQIN


async def test_no_check_in_nor_walk_in_while_the_whole_centre_is_closed(desk: Desk) -> None:
    booked = await desk.booked(at(TOMORROW, "10:00"), COMMERCIAL)
    counter = await desk.counter()
    closed = await block(counter, start=at(TOMORROW, "09:30"), end=at(TOMORROW, "12:00"), reason="typhoon")
    desk.clock.set(datetime.fromisoformat(at(TOMORROW, "09:45")))
    status, err = await counter.post(
        f"/v1/counter/appointments/{booked['id']}/check-in", {"payload": booked["qr"]["payload"]}
    )
    assert (status, err["error"]["code"]) == (409, "centre_blocked"), err
    assert err["error"]["details"] == {"until": at(TOMORROW, "12:00"), "reason": "typhoon"}
    status, err = await counter.post("/v1/counter/walk-ins", {"service_id": COMMERCIAL})
    assert (status, err["error"]["code"]) == (409, "centre_blocked"), err
    # Negative control: a desk's block closes that desk, not the centre; and once the centre's
    # block is removed, the same check-in and walk-in go through.
    await block(counter, counter="A1", start=at(TOMORROW, "09:30"), end=at(TOMORROW, "12:00"))
    status, _ = await counter.delete(f"/v1/counter/blocks/{closed['id']}")
    assert status == 200
    status, checked = await counter.post(
        f"/v1/counter/appointments/{booked['id']}/check-in", {"payload": booked["qr"]["payload"]}
    )
    assert (status, checked["status"]) == (200, "checked_in"), checked
    status, walked = await counter.post("/v1/counter/walk-ins", {"service_id": COMMERCIAL})
    assert status == 201, walked


async def test_a_check_in_before_or_after_a_centre_closure_is_taken(desk: Desk) -> None:
    early = await desk.booked(at(TOMORROW, "09:00"), COMMERCIAL)
    counter = await desk.counter()
    await block(counter, start=at(TOMORROW, "10:00"), end=at(TOMORROW, "11:00"), reason="drill")
    desk.clock.set(datetime.fromisoformat(at(TOMORROW, "09:00")))
    status, checked = await counter.post(
        f"/v1/counter/appointments/{early['id']}/check-in", {"payload": early["qr"]["payload"]}
    )
    assert status == 200, checked


async def test_nobody_is_called_while_the_whole_centre_is_closed_and_a_retried_call_still_replays(
    desk: Desk,
) -> None:
    """queue/next is refused like a check-in while a block closes the whole centre. A call made
    before the block and retried with its Idempotency-Key during it still gets the person it
    called (the answer is replayed, not refused); a fresh call is refused. Negative control: once
    the block is removed, the same fresh call gets the person still waiting."""
    first = await desk.booked(at(TOMORROW, "09:00"), COMMERCIAL, await desk.another_rider("caller-1"))
    second = await desk.booked(at(TOMORROW, "09:00"), COMMERCIAL, await desk.another_rider("caller-2"))
    counter = await desk.counter()
    closed = await block(counter, start=at(TOMORROW, "09:30"), end=at(TOMORROW, "12:00"), reason="typhoon")
    desk.clock.set(datetime.fromisoformat(at(TOMORROW, "08:50")))
    for person in (first, second):
        status, body = await counter.post(
            f"/v1/counter/appointments/{person['id']}/check-in", {"payload": person["qr"]["payload"]}
        )
        assert status == 200, body
    desk.clock.set(datetime.fromisoformat(at(TOMORROW, "09:20")))
    key = {"Idempotency-Key": "call-before-typhoon"}
    status, called = await counter.post("/v1/counter/queue/next", {"counter": "A2"}, headers=key)
    assert status == 200 and called["appointment"] is not None, called
    desk.clock.set(datetime.fromisoformat(at(TOMORROW, "09:45")))
    status, again = await counter.post("/v1/counter/queue/next", {"counter": "A2"}, headers=key)
    assert (status, again) == (200, called)
    status, err = await counter.post("/v1/counter/queue/next", {"counter": "A4"})
    assert status == 409, err
    assert (status, err["error"]["code"]) == (409, "centre_blocked"), err
    assert err["error"]["details"] == {"until": at(TOMORROW, "12:00"), "reason": "typhoon"}
    status, _ = await counter.delete(f"/v1/counter/blocks/{closed['id']}")
    assert status == 200
    status, later = await counter.post("/v1/counter/queue/next", {"counter": "A4"})
    assert status == 200 and later["appointment"] is not None, later
    assert {called["appointment"]["id"], later["appointment"]["id"]} == {first["id"], second["id"]}


async def test_a_blocked_desk_calls_nobody_while_another_desk_may(desk: Desk) -> None:
    """A desk's block closes that desk only: its call is refused (409 counter_blocked, with until
    and reason), another desk serving the same people calls them. Negative control: with the
    block removed, the desk calls again."""
    first = await desk.booked(at(TOMORROW, "09:00"), COMMERCIAL, await desk.another_rider("desk-1"))
    second = await desk.booked(at(TOMORROW, "09:00"), COMMERCIAL, await desk.another_rider("desk-2"))
    counter = await desk.counter()
    closed = await block(
        counter, counter="A1", start=at(TOMORROW, "09:30"), end=at(TOMORROW, "12:00"), reason="repair"
    )
    desk.clock.set(datetime.fromisoformat(at(TOMORROW, "08:50")))
    for person in (first, second):
        status, body = await counter.post(
            f"/v1/counter/appointments/{person['id']}/check-in", {"payload": person["qr"]["payload"]}
        )
        assert status == 200, body
    desk.clock.set(datetime.fromisoformat(at(TOMORROW, "09:45")))
    status, err = await counter.post("/v1/counter/queue/next", {"counter": "A1"})
    assert status == 409, err
    assert (status, err["error"]["code"]) == (409, "counter_blocked"), err
    assert err["error"]["details"] == {"until": at(TOMORROW, "12:00"), "reason": "repair"}
    status, called = await counter.post("/v1/counter/queue/next", {"counter": "A2"})
    assert status == 200 and called["appointment"] is not None, called
    status, _ = await counter.delete(f"/v1/counter/blocks/{closed['id']}")
    assert status == 200
    status, later = await counter.post("/v1/counter/queue/next", {"counter": "A1"})
    assert status == 200 and later["appointment"] is not None, later
    assert {called["appointment"]["id"], later["appointment"]["id"]} == {first["id"], second["id"]}


@pytest.mark.parametrize("status", ["booked", "checked_in", "called"])
async def test_a_checked_in_or_called_appointment_keeps_its_desk_when_a_block_moves_others(
    desk: Desk, pg: Any, status: str
) -> None:
    """Issue 11 item 1: the ledger may move booked appointments between desks to make room, but
    not someone already checked in or called (in the hall, or at the desk). `booked` is the
    negative control: the same appointment, only booked, is moved to make room."""

    async def desk_of(appointment: dict[str, Any]) -> str:
        return str(await pg.fetchval("SELECT counter_id FROM appointments WHERE id = $1", appointment["id"]))

    # X holds A4 at 09:00 with A1 and A2 free (closed while X was booked, so it took A4); Y,
    # social insurance, holds A3, and only A3 and A4 serve it.
    counter = await desk.counter()
    closing = [
        await block(counter, counter=other, start=at(TOMORROW, "09:00"), end=at(TOMORROW, "09:30"))
        for other in ("A1", "A2")
    ]
    x = await desk.booked(at(TOMORROW, "09:00"), COMMERCIAL)
    for closed in closing:
        assert (await counter.delete(f"/v1/counter/blocks/{closed['id']}"))[0] == 200
    assert await desk_of(x) == "A4"
    y = await desk.booked(at(TOMORROW, "09:00"), SOCIAL, await desk.another_rider("y"))
    assert await desk_of(y) == "A3"

    desk.clock.set(datetime.fromisoformat(at(TOMORROW, "08:45")))
    if status != "booked":
        answer, body = await counter.post(
            f"/v1/counter/appointments/{x['id']}/check-in", {"payload": x["qr"]["payload"]}
        )
        assert answer == 200, body
    if status == "called":
        answer, body = await counter.post("/v1/counter/queue/next", {"counter": "A4"})
        assert answer == 200 and body["appointment"]["id"] == x["id"], body
    closed = await block(counter, counter="A3", start=at(TOMORROW, "09:00"), end=at(TOMORROW, "09:30"))
    if status == "booked":  # Y takes A4 and X moves to a free commercial desk
        assert closed["moved"] == [{"appointment_id": y["id"], "counter": "A4"}]
        assert await desk_of(x) in ("A1", "A2")
    else:  # X keeps A4; Y has nowhere to go and is listed
        assert closed["moved"] == [] and [a["appointment_id"] for a in closed["affected"]] == [y["id"]]
        assert await desk_of(x) == "A4"


async def test_a_checked_in_appointment_on_a_closed_desk_keeps_it_and_is_listed(desk: Desk, pg: Any) -> None:
    """The person is in the hall: closing their desk lists them and leaves their desk alone (the
    booked one of test_appointments_in_a_blocked_desks_time_move_... is the control: it moves)."""
    booked = await desk.booked(at(TOMORROW, "10:00"), COMMERCIAL)
    holder = await pg.fetchval("SELECT counter_id FROM appointments WHERE id = $1", booked["id"])
    counter = await desk.counter()
    desk.clock.set(datetime.fromisoformat(at(TOMORROW, "09:45")))
    status, body = await counter.post(
        f"/v1/counter/appointments/{booked['id']}/check-in", {"payload": booked["qr"]["payload"]}
    )
    assert status == 200, body
    closed = await block(counter, counter=holder, start=at(TOMORROW, "10:00"), end=at(TOMORROW, "12:00"))
    assert closed["moved"] == []
    assert [(a["appointment_id"], a["status"]) for a in closed["affected"]] == [(booked["id"], "checked_in")]
    assert await pg.fetchval("SELECT counter_id FROM appointments WHERE id = $1", booked["id"]) == holder
