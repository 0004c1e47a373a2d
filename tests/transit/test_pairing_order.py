"""Pairing does not depend on upload order (issue 15 item 5): uploaded taps are paired per rider
and operator by scan time; an exit without its entry waits, unpriced, until the entry arrives or
the offline window closes."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import pytest

from tests.support import Api
from tests.transit.conftest import Ride

pytestmark = pytest.mark.at_two_instants

METRO = "shenzhen_metro"


def tap(ride: Ride, tap_id: str, payload: str, station: str, direction: str, at: datetime) -> dict[str, Any]:
    return {
        "tap_id": tap_id,
        "payload": payload,
        "gate_id": f"gate-{station}",
        "station": station,
        "direction": direction,
        "scanned_at": at.isoformat(),
    }


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
    entry = tap(ride, "in-1", (await ride.code("shenzhen"))["payload"], stops[0], "in", entered)
    ride.clock.advance(minutes=25)
    exit_ = tap(ride, "out-1", (await ride.code("shenzhen"))["payload"], stops[-1], "out", ride.clock.now())
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


async def test_two_workers_with_a_riders_entry_and_exit_in_different_windows_pair_them(
    ride: Ride, pg: asyncpg.Connection
) -> None:
    gate = await ride.gate(METRO)
    entry, exit_ = await a_trip(ride)
    await upload(gate, entry, exit_)
    uploads = ride.services.transit.uploads
    # Each worker claims one tap (in scan order, SKIP LOCKED): the entry and the exit are decided
    # at once by two transactions; whichever order they commit in, one journey with both.
    await asyncio.gather(uploads.process_pending(1, 0), uploads.process_pending(1, 0))
    await uploads.drain(settle_seconds=0)
    stops = ride.stops(METRO)
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
