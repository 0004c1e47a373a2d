"""Double taps (issue 15 item 7): on a tap-in-only operator, the same rider tapping again at the
same stop or vehicle within `double_tap_seconds` is let through and charged once."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from tests.support import Api
from tests.transit.conftest import Ride

pytestmark = pytest.mark.at_two_instants

BUS = "shenzhen_bus"


async def charged(pg: asyncpg.Connection) -> list[int]:
    return [r["fare_amount"] for r in await pg.fetch("SELECT fare_amount FROM journeys ORDER BY entry_at")]


async def test_a_second_tap_on_the_same_bus_within_the_window_is_not_charged(
    ride: Ride, pg: asyncpg.Connection
) -> None:
    gate = await ride.gate(BUS)
    route = ride.stops(BUS)[0]
    first = await ride.scan(gate, (await ride.code("shenzhen"))["payload"], route)
    assert first["decision"] == "open" and first["fare"]["amount"] > 0
    ride.clock.advance(seconds=30)
    again = await ride.scan(gate, (await ride.code("shenzhen"))["payload"], route, gate_id="g2")
    assert (again["decision"], again["reason"], again["journey_id"], again["fare"]) == (
        "open",
        "double_tap",
        first["journey_id"],
        None,
    )
    assert len(await charged(pg)) == 1
    # Controls: after the window, or on another route, it is a new journey and a new fare.
    ride.clock.advance(seconds=31)
    later = await ride.scan(gate, (await ride.code("shenzhen"))["payload"], route)
    assert later["decision"] == "open" and later["reason"] is None and later["fare"]["amount"] > 0
    ride.clock.advance(seconds=5)
    other = await ride.scan(gate, (await ride.code("shenzhen"))["payload"], ride.stops(BUS)[1])
    assert other["decision"] == "open" and other["reason"] is None
    assert len(await charged(pg)) == 3


async def test_the_window_is_the_operators(ride: Ride, pg: asyncpg.Connection) -> None:
    assert ride.operator(BUS).rules.double_tap_seconds == 60  # the default
    assert ride.operator("shenzhen_metro").rules.tap_out  # a tap-out operator has no double taps


def offline_tap(ride: Ride, tap_id: str, payload: str) -> dict[str, Any]:
    """A tap an offline bus gate made now."""
    return {
        "tap_id": tap_id,
        "payload": payload,
        "gate_id": "bus-9",
        "station": ride.stops(BUS)[0],
        "direction": "in",
        "scanned_at": ride.clock.now().isoformat(),
    }


async def upload(ride: Ride, gate: Api, taps: list[dict[str, Any]]) -> None:
    status, result = await gate.post("/v1/gate/taps:batch", {"taps": taps})
    assert (status, result["accepted"]) == (200, len(taps)), result
    await ride.services.transit.uploads.drain(settle_seconds=0)


async def test_offline_double_taps_count_once_whatever_order_they_arrive_in(
    ride: Ride, pg: asyncpg.Connection
) -> None:
    gate = await ride.gate(BUS)
    early_code = (await ride.code("shenzhen"))["payload"]
    early = offline_tap(ride, "t-1", early_code)
    ride.clock.advance(seconds=20)
    late = offline_tap(ride, "t-2", (await ride.code("shenzhen"))["payload"])
    await upload(ride, gate, [late])  # the later tap arrives first
    await upload(ride, gate, [early])
    assert len(await charged(pg)) == 1
    states = await pg.fetch("SELECT state, journey_id FROM tap_uploads ORDER BY tap_id")
    assert [s["state"] for s in states] == ["recorded", "recorded"]
    assert states[0]["journey_id"] == states[1]["journey_id"]
    # Control: two taps in one batch, a window apart, are two fares.
    ride.clock.advance(seconds=120)
    first = offline_tap(ride, "t-3", (await ride.code("shenzhen"))["payload"])
    ride.clock.advance(seconds=61)
    second = offline_tap(ride, "t-4", (await ride.code("shenzhen"))["payload"])
    await upload(ride, gate, [first, second])
    assert len(await charged(pg)) == 3
