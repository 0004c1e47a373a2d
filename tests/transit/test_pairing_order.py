"""Pairing does not depend on upload order (issue 15 item 5): uploaded taps are paired per rider
and operator by scan time; an exit without its entry waits, unpriced, until the entry arrives or
the offline window closes."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import pytest

from bayaffairs.db.queries import tap_uploads
from tests.support import Api
from tests.transit.conftest import Ride, uploaded_tap

pytestmark = pytest.mark.at_two_instants

METRO = "shenzhen_metro"


async def upload(gate: Api, *taps: dict[str, Any]) -> None:
    status, result = await gate.post("/v1/gate/taps:batch", {"taps": list(taps)})
    assert (status, result["accepted"]) == (200, len(taps)), result


async def journey_of(pg: asyncpg.Connection) -> list[tuple[str, str | None, str | None, str | None]]:
    rows = await pg.fetch(
        "SELECT status, entry_station, exit_station, fare_rule FROM journeys ORDER BY entry_at"
    )
    return [(r["status"], r["entry_station"], r["exit_station"], r["fare_rule"]) for r in rows]


async def a_trip(ride: Ride) -> tuple[dict[str, Any], dict[str, Any]]:
    """The taps of one metro trip, 25 minutes from entry to exit."""
    stops = ride.stops(METRO)
    entered = ride.clock.now()
    entry = uploaded_tap("in-1", (await ride.code("shenzhen"))["payload"], stops[0], "in", entered)
    ride.clock.advance(minutes=25)
    exit_ = uploaded_tap(
        "out-1", (await ride.code("shenzhen"))["payload"], stops[-1], "out", ride.clock.now()
    )
    return entry, exit_


async def test_an_exit_uploaded_before_its_entry_waits_then_pairs(ride: Ride, pg: asyncpg.Connection) -> None:
    gate = await ride.gate(METRO)
    entry, exit_ = await a_trip(ride)
    await upload(gate, exit_)
    uploads = ride.services.transit.uploads
    await uploads.drain(settle_seconds=0)
    assert await pg.fetchval("SELECT state FROM tap_uploads WHERE tap_id = 'out-1'") == "waiting"
    assert await pg.fetchval("SELECT count(*) FROM journeys") == 0  # not priced as an orphan
    await upload(gate, entry)
    await uploads.drain(settle_seconds=0)
    stops = ride.stops(METRO)
    [(status, entry_station, exit_station, rule)] = await journey_of(pg)
    assert (status, entry_station, exit_station) == ("completed", stops[0], stops[-1])
    assert rule is not None and not rule.startswith("no tap-in")
    states = await pg.fetch("SELECT state, journey_id FROM tap_uploads ORDER BY tap_id")
    assert {s["state"] for s in states} == {"recorded"} and len({s["journey_id"] for s in states}) == 1


async def test_an_exit_whose_entry_never_comes_is_priced_once_the_window_closes(
    ride: Ride, pg: asyncpg.Connection
) -> None:
    gate = await ride.gate(METRO)
    _, exit_ = await a_trip(ride)
    await upload(gate, exit_)
    uploads = ride.services.transit.uploads
    await uploads.drain(settle_seconds=0)
    ride.clock.advance(days=6)
    await uploads.drain(settle_seconds=0)
    assert await pg.fetchval("SELECT count(*) FROM journeys") == 0  # an entry may still come
    ride.clock.advance(days=1, minutes=1)  # the offline window (7 days) has closed
    await uploads.drain(settle_seconds=0)
    [(status, entry_station, exit_station, rule)] = await journey_of(pg)
    assert (status, entry_station, exit_station) == ("completed", None, ride.stops(METRO)[-1])
    assert rule is not None and rule.startswith("no tap-in")  # the operator's rule, as before


async def two_workers(ride: Ride) -> None:
    """Two upload workers, one window of one tap each (scan order: the entry, then the exit), in
    the interleaving that loses a pairing unless one worker at a time decides a rider: the exit
    is decided (no entry visible) and held uncommitted while the entry's worker records it, wakes
    the rider's waiting exits (none committed yet) and commits; then the exit's worker commits."""
    uploads = ride.services.transit.uploads
    real = uploads.recorder.record
    reached = {"in": asyncio.Event(), "out": asyncio.Event()}
    release = {"in": asyncio.Event(), "out": asyncio.Event()}

    async def held(conn: Any, items: list[Any]) -> Any:
        if items[0]["direction"] == "in":
            reached["in"].set()  # the entry claimed, not recorded yet
            await release["in"].wait()
            return await real(conn, items)
        decisions = await real(conn, items)
        reached["out"].set()  # the exit decided (its entry not visible), not committed yet
        await release["out"].wait()
        return decisions

    uploads.recorder.record = held  # type: ignore[method-assign]
    try:
        first = asyncio.create_task(uploads.process_pending(1, 0))  # claims the entry
        await asyncio.wait_for(reached["in"].wait(), 30)
        second = asyncio.create_task(uploads.process_pending(1, 0))  # the exit, if it may
        decided = asyncio.create_task(reached["out"].wait())
        await asyncio.wait({second, decided}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
        decided.cancel()
        # Either the exit is decided, held, or the second worker found nothing it may claim:
        # never a second worker still on its way while the entry is recorded and committed.
        assert reached["out"].is_set() or (second.done() and second.result() == 0)
        release["in"].set()
        await asyncio.wait_for(first, 30)
        release["out"].set()
        await asyncio.wait_for(second, 30)
    finally:
        del uploads.recorder.record
    await uploads.drain(settle_seconds=0)


async def any_due_slot(conn: Any, order: list[int], *_: Any) -> int | None:
    """take_slot without its lock: two workers may claim one slot, so one rider, at once."""
    return await conn.fetchval("SELECT slot FROM tap_uploads WHERE state = 'pending' LIMIT 1")


async def test_two_workers_with_a_riders_entry_and_exit_in_different_windows_pair_them(
    ride: Ride, pg: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = await ride.gate(METRO)
    stops = ride.stops(METRO)

    # Negative control: without the slot lock the exit is left waiting for an entry that was
    # recorded meanwhile: the entry stays open, the exit unpaired until the window closes.
    with monkeypatch.context() as m:
        m.setattr(tap_uploads, "take_slot", any_due_slot)
        entry, exit_ = await a_trip(ride)
        await upload(gate, entry, exit_)
        await two_workers(ride)
    assert [(s, a, b) for s, a, b, _ in await journey_of(pg)] == [("open", stops[0], None)]
    assert await pg.fetchval("SELECT state FROM tap_uploads WHERE tap_id = 'out-1'") == "waiting"
    await pg.execute("TRUNCATE tap_uploads, taps, journeys CASCADE")

    ride.clock.advance(minutes=30)
    entry, exit_ = await a_trip(ride)
    await upload(gate, entry, exit_)
    await two_workers(ride)  # the same interleaving, with the lock: the rider's slot is held
    assert [(s, a, b) for s, a, b, _ in await journey_of(pg)] == [("completed", stops[0], stops[-1])]
    assert await pg.fetchval("SELECT count(*) FROM tap_uploads WHERE state <> 'recorded'") == 0


async def test_an_online_entry_later_than_a_waiting_exit_does_not_take_it(
    ride: Ride, pg: asyncpg.Connection
) -> None:
    gate = await ride.gate(METRO)
    _, exit_ = await a_trip(ride)
    await upload(gate, exit_)
    uploads = ride.services.transit.uploads
    await uploads.drain(settle_seconds=0)
    ride.clock.advance(minutes=30)
    online = await ride.scan(gate, (await ride.code("shenzhen"))["payload"], ride.stops(METRO)[1])
    assert online["decision"] == "open"
    await uploads.drain(settle_seconds=0)
    assert await pg.fetchval("SELECT state FROM tap_uploads WHERE tap_id = 'out-1'") == "waiting"
    assert ride.clock.now() - datetime.fromisoformat(exit_["scanned_at"]) < timedelta(hours=1)


async def journeys_by_entry(pg: asyncpg.Connection) -> list[asyncpg.Record]:
    return await pg.fetch(
        """
        SELECT id, status, entry_station, exit_station, fare_amount, fare_rule
        FROM journeys ORDER BY entry_at
        """
    )


async def test_an_uploaded_entry_older_than_a_journey_opened_online_since_is_paired_and_charged(
    ride: Ride, pg: asyncpg.Connection
) -> None:
    stops = ride.stops(METRO)
    gate = await ride.gate(METRO)
    entry, exit_ = await a_trip(ride)
    ride.clock.advance(minutes=15)  # out at +25 (offline, not uploaded yet), in again online at +40
    online = await ride.scan(gate, (await ride.code("shenzhen"))["payload"], stops[1])
    assert online["decision"] == "open"
    uploads = ride.services.transit.uploads
    await upload(gate, entry)
    await uploads.drain(settle_seconds=0)
    # Not refused as unfinished_journey (the gate let the rider in: a free ride): the rider has
    # entered since, so that journey is over, charged the operator's rule until its exit comes.
    assert await pg.fetchval("SELECT state FROM tap_uploads WHERE tap_id = 'in-1'") == "recorded"
    first, second = await journeys_by_entry(pg)
    assert (first["status"], first["entry_station"], second["id"]) == (
        "unfinished",
        stops[0],
        online["journey_id"],
    )
    assert first["fare_amount"] == ride.operator(METRO).fares.max_fare(stops[0], "adult").amount.amount
    await upload(gate, exit_)
    await uploads.drain(settle_seconds=0)
    first, second = await journeys_by_entry(pg)
    assert (first["status"], first["entry_station"], first["exit_station"]) == (
        "completed",
        stops[0],
        stops[-1],
    )
    assert (
        first["fare_rule"].startswith("late tap-out")
        and first["fare_amount"] < ride.operator(METRO).fares.max_fare(stops[0], "adult").amount.amount
    )
    assert (second["status"], second["entry_station"]) == ("open", stops[1])  # untouched
    assert await pg.fetchval("SELECT count(*) FROM journeys") == 2


async def test_an_uploaded_trip_older_than_a_completed_online_journey_neither_is_free_nor_locks_out(
    ride: Ride, pg: asyncpg.Connection
) -> None:
    stops = ride.stops(METRO)
    gate = await ride.gate(METRO)
    entry, exit_ = await a_trip(ride)
    ride.clock.advance(minutes=15)
    assert (await ride.scan(gate, (await ride.code("shenzhen"))["payload"], stops[1]))["decision"] == "open"
    ride.clock.advance(minutes=20)
    out = await ride.scan(gate, (await ride.code("shenzhen"))["payload"], stops[2], "out")
    assert out["decision"] == "open"
    uploads = ride.services.transit.uploads
    await upload(gate, entry)  # its exit is on another gate, uploaded later
    await uploads.drain(settle_seconds=0)
    # The old entry opened nothing the rider is still "inside": a tap-in now is let through.
    ride.clock.advance(minutes=5)
    again = await ride.scan(gate, (await ride.code("shenzhen"))["payload"], stops[3])
    assert again["decision"] == "open", again
    await upload(gate, exit_)
    await uploads.drain(settle_seconds=0)
    first, second, third = await journeys_by_entry(pg)
    assert (first["status"], first["entry_station"], first["exit_station"]) == (
        "completed",
        stops[0],
        stops[-1],
    )
    assert first["fare_amount"] is not None and not first["fare_rule"].startswith("no tap-in")
    assert (second["status"], second["entry_station"], second["exit_station"]) == (
        "completed",
        stops[1],
        stops[2],
    )
    assert (third["id"], third["status"]) == (again["journey_id"], "open")


async def test_an_uploaded_bus_tap_older_than_an_open_metro_journey_is_charged(
    ride: Ride, pg: asyncpg.Connection
) -> None:
    bus = await ride.gate("shenzhen_bus")
    route = ride.stops("shenzhen_bus")[0]
    boarded = uploaded_tap("bus-1", (await ride.code("shenzhen"))["payload"], route, "in", ride.clock.now())
    ride.clock.advance(minutes=30)
    metro = await ride.gate(METRO)
    assert (await ride.scan(metro, (await ride.code("shenzhen"))["payload"], ride.stops(METRO)[0]))[
        "decision"
    ] == "open"
    await upload(bus, boarded)
    await ride.services.transit.uploads.drain(settle_seconds=0)
    assert await pg.fetchval("SELECT state FROM tap_uploads WHERE tap_id = 'bus-1'") == "recorded"
    fare = await pg.fetchval("SELECT fare_amount FROM journeys WHERE operator = 'shenzhen_bus'")
    assert fare is not None and fare > 0


async def test_an_uploaded_entry_after_an_open_online_journey_closes_it_and_pays_its_own_way(
    ride: Ride, pg: asyncpg.Connection
) -> None:
    stops = ride.stops(METRO)
    gate = await ride.gate(METRO)
    online = await ride.scan(gate, (await ride.code("shenzhen"))["payload"], stops[0])
    ride.clock.advance(minutes=10)  # out at stops[1] on a gate that uploads last
    left = uploaded_tap("out-a", (await ride.code("shenzhen"))["payload"], stops[1], "out", ride.clock.now())
    ride.clock.advance(minutes=10)
    entered = uploaded_tap("in-b", (await ride.code("shenzhen"))["payload"], stops[3], "in", ride.clock.now())
    ride.clock.advance(minutes=20)
    exited = uploaded_tap(
        "out-b", (await ride.code("shenzhen"))["payload"], stops[5], "out", ride.clock.now()
    )
    uploads = ride.services.transit.uploads
    await upload(gate, entered, exited)
    await uploads.drain(settle_seconds=0)
    assert await pg.fetchval("SELECT state FROM tap_uploads WHERE tap_id = 'in-b'") == "recorded"
    assert await ride.services.transit.journeys.close_overdue() == 1  # the online one, priced now
    first, second = await journeys_by_entry(pg)
    maximum = ride.operator(METRO).fares.max_fare(stops[0], "adult").amount.amount
    assert (first["id"], first["status"], first["fare_amount"]) == (
        online["journey_id"],
        "unfinished",
        maximum,
    )
    assert (second["status"], second["entry_station"], second["exit_station"]) == (
        "completed",
        stops[3],
        stops[5],
    )
    await upload(gate, left)
    await uploads.drain(settle_seconds=0)
    first, _ = await journeys_by_entry(pg)
    assert (first["status"], first["exit_station"]) == ("completed", stops[1])
    assert first["fare_amount"] < maximum and first["fare_rule"].startswith("late tap-out")
    assert await pg.fetchval("SELECT count(*) FROM journeys") == 2


async def test_an_uploaded_entry_pairs_with_the_online_exit_priced_without_it(
    ride: Ride, pg: asyncpg.Connection
) -> None:
    stops = ride.stops(METRO)
    gate = await ride.gate(METRO)
    entry = uploaded_tap("in-1", (await ride.code("shenzhen"))["payload"], stops[0], "in", ride.clock.now())
    ride.clock.advance(minutes=25)  # out through an online gate before the entry's gate uploads
    out = await ride.scan(gate, (await ride.code("shenzhen"))["payload"], stops[-1], "out")
    maximum = ride.operator(METRO).fares.max_fare(stops[-1], "adult").amount.amount
    assert (out["decision"], out["fare"]["amount"]) == ("open", maximum)  # no tap-in (yet): the rule
    await upload(gate, entry)
    await ride.services.transit.uploads.drain(settle_seconds=0)
    # One journey, entry to exit at its fare: not the orphan's maximum and an open journey on top
    # (charged the maximum again when closed, and refusing the rider's tap-ins meanwhile).
    [journey] = await journeys_by_entry(pg)
    assert (journey["id"], journey["status"], journey["entry_station"], journey["exit_station"]) == (
        out["journey_id"],
        "completed",
        stops[0],
        stops[-1],
    )
    assert journey["fare_amount"] < maximum
    ride.clock.advance(minutes=5)
    again = await ride.scan(gate, (await ride.code("shenzhen"))["payload"], stops[3])
    assert again["decision"] == "open", again


@pytest.mark.parametrize("order", ["entry, then exit", "one batch", "exit, then entry"])
async def test_an_exit_uploaded_after_an_entry_at_another_operator_completes_its_own_journey(
    ride: Ride, pg: asyncpg.Connection, order: str
) -> None:
    """Shenzhen Metro from Futian to Luohu (offline gates), then over the border into the MTR at
    Lo Wu (online, the journey there still open). Shenzhen's gates upload the entry and the
    exit late, in any order: the exit is the Shenzhen journey's, whatever is open at the MTR
    since (before, it waited for an entry forever, blocked by the MTR journey)."""
    metro, mtr = await ride.gate(METRO), await ride.gate("mtr")
    entered = ride.clock.now()
    entry = uploaded_tap("sz-in", (await ride.code("shenzhen"))["payload"], "futian", "in", entered)
    ride.clock.advance(minutes=25)
    exit_ = uploaded_tap("sz-out", (await ride.code("shenzhen"))["payload"], "luohu", "out", ride.clock.now())
    ride.clock.advance(minutes=10)
    at_lo_wu = await ride.scan(mtr, (await ride.code("hong_kong"))["payload"], "lo_wu")
    assert at_lo_wu["decision"] == "open", at_lo_wu
    uploads = ride.services.transit.uploads
    batches = {
        "entry, then exit": [[entry], [exit_]],
        "one batch": [[entry, exit_]],
        "exit, then entry": [[exit_], [entry]],
    }[order]
    for batch in batches:
        ride.clock.advance(minutes=5)
        await upload(metro, *batch)
        await uploads.drain(settle_seconds=0)

    assert await pg.fetchval("SELECT state FROM tap_uploads WHERE tap_id = 'sz-out'") == "recorded"
    rows = await pg.fetch("SELECT operator, status, entry_station, exit_station, fare_rule FROM journeys")
    journeys = {r["operator"]: r for r in rows}
    assert len(rows) == 2 and set(journeys) == {METRO, "mtr"}  # no journey of its own for the exit
    shenzhen = journeys[METRO]
    assert (shenzhen["status"], shenzhen["entry_station"], shenzhen["exit_station"]) == (
        "completed",
        "futian",
        "luohu",
    )
    rule = shenzhen["fare_rule"]  # priced entry to exit (one batch: it was priced the maximum)
    assert rule is not None and "no tap-in" not in rule and "max fare" not in rule, rule
    assert (journeys["mtr"]["status"], journeys["mtr"]["entry_station"]) == ("open", "lo_wu")
    assert await pg.fetchval(
        "SELECT journey_id FROM tap_uploads WHERE tap_id = 'sz-out'"
    ) == await pg.fetchval("SELECT journey_id FROM tap_uploads WHERE tap_id = 'sz-in'")


async def test_an_entry_and_exit_uploaded_in_one_batch_after_a_later_entry_are_priced_entry_to_exit(
    ride: Ride, pg: asyncpg.Connection
) -> None:
    """The same at one operator: the rider is back in the metro (online) when the entry and exit
    of the earlier trip arrive in one batch. The entry is recorded closed (a later entry shows it
    over) and priced the maximum, then the exit completes it: priced entry to exit, the maximum
    not written over it afterwards (the batch's prices used to be written last)."""
    gate = await ride.gate(METRO)
    entry, exit_ = await a_trip(ride)
    ride.clock.advance(minutes=10)
    again = await ride.scan(gate, (await ride.code("shenzhen"))["payload"], ride.stops(METRO)[-1])
    assert again["decision"] == "open", again
    ride.clock.advance(minutes=5)
    await upload(gate, entry, exit_)
    await ride.services.transit.uploads.drain(settle_seconds=0)

    stops = ride.stops(METRO)
    [earlier, later] = await journey_of(pg)
    assert earlier[:3] == ("completed", stops[0], stops[-1])
    assert earlier[3] is not None and "max fare" not in earlier[3] and "no tap-in" not in earlier[3], earlier
    assert later[:2] == ("open", stops[-1])
