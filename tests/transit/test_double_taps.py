"""Double taps (issue 15 item 7): on a tap-in-only operator, the same rider tapping again at the
same stop or vehicle within `double_tap_seconds` is let through and charged once."""

from __future__ import annotations

import asyncpg
import pytest

from tests.transit.conftest import Ride, uploaded_tap

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


async def test_offline_double_taps_count_once_whatever_order_they_arrive_in(
    ride: Ride, pg: asyncpg.Connection
) -> None:
    gate = await ride.gate(BUS)
    early_code = (await ride.code("shenzhen"))["payload"]
    early = ride.offline_tap(BUS, "t-1", early_code, ride.clock.now())
    ride.clock.advance(seconds=20)
    late = ride.offline_tap(BUS, "t-2", (await ride.code("shenzhen"))["payload"], ride.clock.now())
    await ride.upload(gate, [late])  # the later tap arrives first
    await ride.upload(gate, [early])
    assert len(await charged(pg)) == 1
    states = await pg.fetch("SELECT state, journey_id FROM tap_uploads ORDER BY tap_id")
    assert [s["state"] for s in states] == ["recorded", "recorded"]
    assert states[0]["journey_id"] == states[1]["journey_id"]
    # Control: two taps in one batch, a window apart, are two fares.
    ride.clock.advance(seconds=120)
    first = ride.offline_tap(BUS, "t-3", (await ride.code("shenzhen"))["payload"], ride.clock.now())
    ride.clock.advance(seconds=61)
    second = ride.offline_tap(BUS, "t-4", (await ride.code("shenzhen"))["payload"], ride.clock.now())
    await ride.upload(gate, [first, second])
    assert len(await charged(pg)) == 3


# At an operator with tap-out (a metro), a second entry by the same rider at the same station
# within `double_tap_seconds` is the same entry: the gate seemed not to open, or the rider tapped
# twice. Before, online it was refused `unfinished_journey` (the rider stood at a closed gate,
# though inside by our books); uploaded, it closed the first journey as unfinished (the maximum
# fare) and opened a second one: charged twice.

METRO = "shenzhen_metro"


async def journeys(pg: asyncpg.Connection) -> list[tuple[str, str | None, str | None]]:
    rows = await pg.fetch("SELECT status, entry_station, exit_station FROM journeys ORDER BY entry_at")
    return [(r["status"], r["entry_station"], r["exit_station"]) for r in rows]


async def test_a_second_entry_at_the_same_metro_station_online_is_the_same_entry(
    ride: Ride, pg: asyncpg.Connection
) -> None:
    gate = await ride.gate(METRO)
    stops = ride.stops(METRO)
    first = await ride.scan(gate, (await ride.code("shenzhen"))["payload"], stops[0])
    assert first["decision"] == "open"
    ride.clock.advance(seconds=5)
    again = await ride.scan(gate, (await ride.code("shenzhen"))["payload"], stops[0], gate_id="g2")
    assert (again["decision"], again["reason"], again["journey_id"]) == (
        "open",
        "double_tap",
        first["journey_id"],
    )
    # Control: at another station (the rider is inside at the first) it is still refused.
    elsewhere = await ride.scan(gate, (await ride.code("shenzhen"))["payload"], stops[1], gate_id="g3")
    assert (elsewhere["decision"], elsewhere["reason"]) == ("deny", "unfinished_journey")
    ride.clock.advance(minutes=20)
    out = await ride.scan(gate, (await ride.code("shenzhen"))["payload"], stops[-1], "out")
    assert out["decision"] == "open" and out["journey_id"] == first["journey_id"]
    assert await journeys(pg) == [("completed", stops[0], stops[-1])]
    # Control: after the window, the same station is refused as before.
    ride.clock.advance(minutes=1)
    await ride.scan(gate, (await ride.code("shenzhen"))["payload"], stops[0])
    ride.clock.advance(seconds=61)
    late = await ride.scan(gate, (await ride.code("shenzhen"))["payload"], stops[0], gate_id="g2")
    assert (late["decision"], late["reason"]) == ("deny", "unfinished_journey")


@pytest.mark.parametrize("order", ["in scan order", "the second entry first"])
async def test_a_second_entry_at_the_same_metro_station_uploaded_is_the_same_entry(
    ride: Ride, pg: asyncpg.Connection, order: str
) -> None:
    gate = await ride.gate(METRO)
    stops = ride.stops(METRO)
    a = uploaded_tap("in-a", (await ride.code("shenzhen"))["payload"], stops[0], "in", ride.clock.now())
    ride.clock.advance(seconds=5)
    b = uploaded_tap("in-b", (await ride.code("shenzhen"))["payload"], stops[0], "in", ride.clock.now())
    ride.clock.advance(minutes=20)
    c = uploaded_tap("out-c", (await ride.code("shenzhen"))["payload"], stops[-1], "out", ride.clock.now())
    await ride.upload(gate, [a, b, c] if order == "in scan order" else [b, a, c])
    await ride.services.transit.journeys.close_overdue()

    assert await journeys(pg) == [("completed", stops[0], stops[-1])]
    assert len(await charged(pg)) == 1
    states = await pg.fetch("SELECT state, journey_id FROM tap_uploads ORDER BY tap_id")
    assert {s["state"] for s in states} == {"recorded"} and len({s["journey_id"] for s in states}) == 1


async def test_an_entry_after_an_exit_at_the_same_metro_station_is_a_new_journey(
    ride: Ride, pg: asyncpg.Connection
) -> None:
    """Control: out and back in at the entry station within the window is not the same entry
    (else exit-and-re-enter would open the gates on a journey already over)."""
    gate = await ride.gate(METRO)
    stops = ride.stops(METRO)
    first = await ride.scan(gate, (await ride.code("shenzhen"))["payload"], stops[0])
    ride.clock.advance(seconds=10)
    out = await ride.scan(gate, (await ride.code("shenzhen"))["payload"], stops[0], "out")
    assert out["decision"] == "open" and out["journey_id"] == first["journey_id"]
    ride.clock.advance(seconds=10)
    back = await ride.scan(gate, (await ride.code("shenzhen"))["payload"], stops[0], gate_id="g2")
    assert back["decision"] == "open" and back["reason"] is None
    assert back["journey_id"] != first["journey_id"]
    assert await journeys(pg) == [("completed", stops[0], stops[0]), ("open", stops[0], None)]
