"""Races against the real database: capacity, reschedules and the counter's change cursor."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime
from typing import Any

from tests.appointments.conftest import COMMERCIAL, DAY_AFTER, HENGQIN, SOCIAL, TOMORROW, Desk, at, riders

RIDERS = 200


async def naive_book(db: Any, table: str, user_id: str, starts_at: datetime, capacity: int) -> bool:
    """Deliberately unlocked: read how many are booked, then insert (Easy!Appointments' way)."""
    async with db.transaction() as conn:
        booked = await conn.fetchval(
            f"SELECT count(*) FROM {table} WHERE centre_id = $1 AND service_id = $2 AND starts_at = $3"
            " AND status = 'booked'",
            HENGQIN,
            COMMERCIAL,
            starts_at,
        )
        await asyncio.sleep(0)
        if booked >= capacity:
            return False
        await conn.execute(
            f"""INSERT INTO {table} (id, reference, user_id, agency_id, centre_id, service_id, starts_at,
                ends_at, local_date, counter_id, status, holder_name, created_at, updated_at, change_seq)
            VALUES ($1, $1, $2, 'a', $3, $4, $5, $5, $6, $7, 'booked', 'x', now(), now(), 0)""",
            f"naive-{user_id}",
            user_id,
            HENGQIN,
            COMMERCIAL,
            starts_at,
            starts_at.date(),
            f"desk-{booked + 1}",
        )
        return True


async def test_200_concurrent_bookings_on_a_slot_of_capacity_3_book_exactly_3(
    unlimited: Desk, pg: Any
) -> None:
    desk = unlimited
    start = at(TOMORROW, "10:00")
    racers = await riders(desk, RIDERS)

    # Negative control: the same race through an unlocked read-then-insert path overbooks, so
    # the race below is real. It writes to a copy of the table without the desk constraint.
    await pg.execute("CREATE TABLE naive_appointments (LIKE appointments INCLUDING DEFAULTS)")
    try:
        db = desk.services.appointments.booking.db
        when = datetime.fromisoformat(start)
        results = await asyncio.gather(
            *(naive_book(db, "naive_appointments", f"u{i}", when, 3) for i in range(RIDERS))
        )
        naive_rows = await pg.fetchval("SELECT count(*) FROM naive_appointments")
        assert naive_rows == sum(results)
        assert naive_rows > 3, "the unlocked path should overbook; the race did not happen"
    finally:
        await pg.execute("DROP TABLE naive_appointments")

    answers = await asyncio.gather(*(desk.book(start, rider=r) for r in racers))
    statuses = Counter(status for status, _ in answers)
    assert statuses == {201: 3, 409: RIDERS - 3}
    assert {body["error"]["code"] for status, body in answers if status == 409} == {"slot_full"}
    rows = await pg.fetch(
        "SELECT counter_id FROM appointments WHERE starts_at = $1 AND status = 'booked'",
        datetime.fromisoformat(start),
    )
    assert sorted(r["counter_id"] for r in rows) == ["A1", "A2", "A4"]  # the desks doing it
    slots = await desk.slots(TOMORROW)
    assert next(s for s in slots if s["start"] == start)["remaining"] == 0


async def naive_desk_book(
    db: Any, table: str, user_id: str, service: str, starts_at: datetime, counters: list[str]
) -> bool:
    """Deliberately unlocked: read which desks are busy at that time, then take a free one."""
    async with db.transaction() as conn:
        busy = {
            r["counter_id"]
            for r in await conn.fetch(
                f"SELECT counter_id FROM {table} WHERE centre_id = $1 AND starts_at = $2"
                " AND status = 'booked'",
                HENGQIN,
                starts_at,
            )
        }
        await asyncio.sleep(0)
        free = [c for c in counters if c not in busy]
        if not free:
            return False
        await conn.execute(
            f"""INSERT INTO {table} (id, reference, user_id, agency_id, centre_id, service_id, starts_at,
                ends_at, local_date, counter_id, status, holder_name, created_at, updated_at, change_seq)
            VALUES ($1, $1, $2, 'a', $3, $4, $5, $5, $6, $7, 'booked', 'x', now(), now(), 0)""",
            f"naive-{user_id}",
            user_id,
            HENGQIN,
            service,
            starts_at,
            starts_at.date(),
            free[0],
        )
        return True


async def test_200_concurrent_bookings_of_two_services_sharing_desks_never_exceed_the_desks(
    unlimited: Desk, pg: Any
) -> None:
    desk = unlimited
    start = at(TOMORROW, "09:00")
    when = datetime.fromisoformat(start)
    centre = desk.services.appointments.catalogue.centre(HENGQIN)
    able = {s: [c.id for c in centre.counters if s in c.services] for s in (COMMERCIAL, SOCIAL)}
    services = [(COMMERCIAL, SOCIAL)[i % 2] for i in range(RIDERS)]
    racers = await riders(desk, RIDERS)

    # Negative control: the same race through an unlocked read-then-insert path puts more people
    # on the four desks than there are desks, so the race below is real. It writes to a copy of
    # the table without the one-appointment-per-desk constraint.
    await pg.execute("CREATE TABLE naive_appointments (LIKE appointments INCLUDING DEFAULTS)")
    try:
        db = desk.services.appointments.booking.db
        results = await asyncio.gather(
            *(
                naive_desk_book(db, "naive_appointments", f"u{i}", s, when, able[s])
                for i, s in enumerate(services)
            )
        )
        naive_rows = await pg.fetchval("SELECT count(*) FROM naive_appointments")
        assert naive_rows == sum(results)
        assert naive_rows > len(centre.counters), "the unlocked path should overbook the desks"
    finally:
        await pg.execute("DROP TABLE naive_appointments")

    answers = await asyncio.gather(*(desk.book(start, s, r) for s, r in zip(services, racers, strict=True)))
    statuses = Counter(status for status, _ in answers)
    assert statuses == {201: len(centre.counters), 409: RIDERS - len(centre.counters)}
    assert {body["error"]["code"] for status, body in answers if status == 409} == {"slot_full"}
    rows = await pg.fetch(
        "SELECT service_id, counter_id FROM appointments WHERE starts_at = $1 AND status = 'booked'", when
    )
    assert sorted(r["counter_id"] for r in rows) == ["A1", "A2", "A3", "A4"]
    assert all(r["counter_id"] in able[r["service_id"]] for r in rows)
    for service in (COMMERCIAL, SOCIAL):
        slots = await desk.slots(TOMORROW, service)
        assert next(s for s in slots if s["start"] == start)["remaining"] == 0


async def test_two_concurrent_reschedules_leave_exactly_one_active_booking(desk: Desk, pg: Any) -> None:
    body = await desk.booked(at(TOMORROW, "09:00"))
    targets = [at(TOMORROW, "14:00"), at(DAY_AFTER, "09:30")]
    answers = await asyncio.gather(
        *(desk.rider.post(f"/v1/appointments/{body['id']}/reschedule", {"start": t}) for t in targets)
    )
    assert sorted(status for status, _ in answers) == [201, 409]
    loser = next(b for s, b in answers if s == 409)
    assert loser["error"]["code"] == "appointment_not_active"
    active = await pg.fetch("SELECT starts_at FROM appointments WHERE status = 'booked'")
    assert len(active) == 1
    winner = next(b for s, b in answers if s == 201)
    assert active[0]["starts_at"] == datetime.fromisoformat(winner["start"])
    # Exactly one desk is held, for the winner's time.
    held = await pg.fetch(
        "SELECT starts_at FROM appointments WHERE status = 'booked' OR seat_held_until IS NOT NULL"
    )
    assert [r["starts_at"] for r in held] == [active[0]["starts_at"]]


async def test_the_since_cursor_misses_no_change_under_concurrent_writes(unlimited: Desk) -> None:
    desk = unlimited
    counter = await desk.counter()
    racers = await riders(desk, 36)  # a weekday has 13 slots of capacity 3
    starts = [s["start"] for s in await desk.slots(TOMORROW)]
    seen: dict[str, int] = {}
    cursor = 0
    stop = asyncio.Event()

    async def pull() -> None:
        nonlocal cursor
        status, body = await counter.get(f"/v1/counter/appointments?date={TOMORROW}&since={cursor}")
        assert status == 200, body
        for item in body["items"]:
            seen[item["id"]] = max(seen.get(item["id"], 0), item["change"])
        cursor = body["cursor"]

    async def poll() -> None:
        while not stop.is_set():
            await pull()

    poller = asyncio.create_task(poll())
    answers = await asyncio.gather(
        *(desk.book(starts[i % len(starts)], rider=r) for i, r in enumerate(racers))
    )
    booked = [b for s, b in answers if s == 201]
    cancels = await asyncio.gather(
        *(
            r.post(f"/v1/appointments/{b['id']}/cancellation")
            for r, (_, b) in list(zip(racers, answers, strict=True))[::2]
        )
    )
    stop.set()
    await poller
    await pull()  # once more after the writers finished
    status, full = await counter.get(f"/v1/counter/appointments?date={TOMORROW}")
    assert status == 200
    assert len(booked) == len(racers)
    assert all(s == 200 for s, _ in cancels)
    # Every appointment, at its latest change, reached the incremental reader.
    assert seen == {item["id"]: item["change"] for item in full["items"]}
