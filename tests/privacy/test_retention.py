"""Retention that runs (issue 16 item 3): each kind of record is kept for its time in
[privacy.retention], then anonymised, unlinked or deleted by a job; a dry run only counts; and
nothing a settlement adds up goes before the settlement's own seven years."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.privacy.conftest import DOCUMENT, MACAO_ID, NOW, World
from tests.support import Api
from tests.travel.conftest import hkid_number

METRO = "shenzhen_metro"


async def ride_metro(world: World, trips: int) -> None:
    ride = world.ride
    gate = await ride.gate(METRO)
    stops = ride.stops(METRO)
    for n in range(trips):
        await ride.scan(gate, (await ride.code("shenzhen"))["payload"], stops[n])
        world.clock.advance(minutes=12)
        await ride.scan(gate, (await ride.code("shenzhen"))["payload"], stops[-1 - n], "out")
        world.clock.advance(minutes=5)
    await world.services.transit.charges.charge_pending()


async def settlement(world: World, day: Any) -> str:
    return b"".join([chunk async for chunk in world.services.transit.settlements.csv(METRO, day)]).decode()


async def counts(world: World, user_id: str) -> dict[str, int]:
    pg = world.pg
    return {
        "documents": await pg.fetchval("SELECT count(*) FROM documents WHERE user_id = $1", user_id),
        "bookings": await pg.fetchval("SELECT count(*) FROM travel_bookings WHERE user_id = $1", user_id),
        "appointments": await pg.fetchval("SELECT count(*) FROM appointments WHERE user_id = $1", user_id),
        "journeys": await pg.fetchval("SELECT count(*) FROM journeys WHERE user_id = $1", user_id),
        "payments": await pg.fetchval("SELECT count(*) FROM travel_payments"),
        "all_journeys": await pg.fetchval("SELECT count(*) FROM journeys"),
    }


async def test_retention_follows_the_table_and_keeps_what_settlements_add_up(world: World) -> None:
    retention = world.services.privacy.retention
    user_id = await world.user_id()
    expiring = {
        **DOCUMENT,
        "number": hkid_number(9),
        "expires": (NOW + timedelta(days=20)).date().isoformat(),
    }
    await world.trip.document(expiring)
    booking = await world.paid_booking()  # adds DOCUMENT, valid three years
    await world.appointment()
    await ride_metro(world, 3)
    day = world.clock.today(ZoneInfo("Asia/Shanghai"))
    before = await settlement(world, day)
    assert before.count("\n") > 3
    assert await counts(world, user_id) == {
        "documents": 3,  # the expiring one, DOCUMENT, the appointment's Macao ID
        "bookings": 1,
        "appointments": 1,
        "journeys": 3,
        "payments": 1,
        "all_journeys": 3,
    }

    # Nothing is due while every record is within its time.
    report = await retention.run(dry_run=True)
    assert report.total == 0

    # 100 days on: past 90 days after travel, the visit and the journeys; the expiring document
    # 80 days past expiry. A dry run counts and changes nothing.
    world.clock.set(NOW + timedelta(days=100))
    dry = await retention.run(dry_run=True)
    due = {k.kind: k.count for k in dry.kinds}
    assert {k: v for k, v in due.items() if v} == {
        "documents": 1,
        "bookings": 1,
        "appointments": 1,
        "journeys": 3,
    }
    assert (await counts(world, user_id))["journeys"] == 3

    done = await retention.run()
    assert {k.kind: k.count for k in done.kinds} == due
    assert await counts(world, user_id) == {
        "documents": 2,
        "bookings": 0,
        "appointments": 0,
        "journeys": 0,
        "payments": 1,  # books of account stay
        "all_journeys": 3,  # unlinked, not deleted
    }
    passenger = await world.pg.fetchrow(
        "SELECT holder_name, number_masked, document_id FROM travel_passengers WHERE booking_id = $1",
        booking["id"],
    )
    assert tuple(passenger) == ("", "", "")
    assert await world.pg.fetchval("SELECT holder_name FROM appointments") == ""
    assert await world.pg.fetchval("SELECT count(*) FROM journeys WHERE account_token <> ''::bytea") == 0
    # The settlement of the day the journeys were made is the same file.
    assert await settlement(world, day) == before
    # The rider's own view has gone with them; running again does nothing.
    rider = await world.api.sign_in("privacy-rider")  # the first session ran out meanwhile
    assert await world.user_id(rider) == user_id
    _, bookings = await rider.get("/v1/travel/bookings")
    assert bookings["items"] == []
    assert (await retention.run()).total == 0

    # One day short of seven years: still nothing a settlement adds up is deleted.
    world.clock.set(NOW + timedelta(days=2557 - 1))
    await retention.run()
    assert await settlement(world, day) == before
    assert (await counts(world, user_id))["payments"] == 1
    # Past seven years the books go too (the negative control: retention does delete).
    world.clock.set(NOW + timedelta(days=2557 + 1))
    gone = {k.kind: k.count for k in (await retention.run()).kinds if k.count}
    assert gone["payments"] == 1 and gone["settled_journeys"] == 3
    assert (await counts(world, user_id))["all_journeys"] == 0
    assert await world.pg.fetchval("SELECT count(*) FROM travel_payments") == 0


async def test_a_debt_stays_with_its_rider_and_two_workers_never_deal_with_a_record_twice(
    world: World,
) -> None:
    retention = world.services.privacy.retention
    user_id = await world.user_id()
    await ride_metro(world, 2)
    journey = await world.pg.fetchval("SELECT id FROM journeys ORDER BY id LIMIT 1")
    await world.pg.execute("UPDATE journeys SET charge_status = 'failed' WHERE id = $1", journey)
    world.clock.set(NOW + timedelta(days=100))
    first, second = await asyncio.gather(retention.run(), retention.run())
    journeys = first.kinds, second.kinds
    unlinked = sum(k.count for ks in journeys for k in ks if k.kind == "journeys")
    assert unlinked == 1
    assert await world.pg.fetchval("SELECT user_id FROM journeys WHERE id = $1", journey) == user_id


async def test_the_job_is_declared_and_its_figures_reach_metrics(world: World) -> None:
    from bayaffairs.wiring.jobs import periodic

    jobs = {j.name: j for j in periodic(world.services)}
    assert jobs["apply retention"].period == world.services.privacy.retention.settings.run_seconds
    world.clock.set(NOW + timedelta(days=1))
    await jobs["apply retention"].work()
    status, text = await _metrics(world.api)
    assert status == 200
    assert "bayaffairs_retention_runs_total 1.0" in text
    assert 'bayaffairs_retention_records_total{action="unlink",kind="journeys"} 0.0' in text


async def _metrics(api: Api) -> tuple[int, str]:
    response = await api.client.get("/metrics")
    return response.status, await response.text()


async def test_a_document_an_appointment_to_come_was_booked_with_stays_until_none_needs_it(
    world: World,
) -> None:
    """A renewal is booked with the document that has run out: retention keeps it while the
    appointment is still to come (the rider reschedules with it), and deletes it once none is."""
    retention = world.services.privacy.retention
    status, doc = await world.rider.post(
        "/v1/me/documents", {**MACAO_ID, "expires": (NOW + timedelta(days=2)).date().isoformat()}
    )
    assert status == 201, doc
    weekdays = [d for d in range(40, 55) if (NOW.date() + timedelta(days=d)).weekday() < 5]
    visit, later = weekdays[0], weekdays[1]
    booked = await world.appointment(days=visit)  # with the Macao ID that expires in two days

    world.clock.set(NOW + timedelta(days=36))  # the document 34 days past its expiry
    done = {k.kind: k.count for k in (await retention.run()).kinds if k.count}
    assert "documents" not in done, done
    assert await world.pg.fetchval("SELECT count(*) FROM documents WHERE id = $1", doc["id"]) == 1
    rider = await world.api.sign_in("privacy-rider")
    day = (NOW.date() + timedelta(days=later)).isoformat()
    status, moved = await rider.post(
        f"/v1/appointments/{booked['id']}/reschedule", {"start": f"{day}T10:00:00+08:00"}
    )
    assert status in (200, 201), moved

    # Once no appointment needs it (the rider cancels the renewal) it goes: the negative control.
    status, cancelled = await rider.post(f"/v1/appointments/{moved['id']}/cancellation", {})
    assert status == 200, cancelled
    await retention.run()
    assert await world.pg.fetchval("SELECT count(*) FROM documents WHERE id = $1", doc["id"]) == 0
