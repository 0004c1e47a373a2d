"""Multi-rider codes (issue 15 item 7, gba.md: Macao codes cover up to 3 fares): asked for
explicitly with `riders`, one scan lets the group through and charges each fare once."""

from __future__ import annotations

import asyncpg
import pytest

from bayaffairs.transit.codes import base45
from bayaffairs.transit.codes import format as fmt
from bayaffairs.transit.model import Trip
from tests.transit.conftest import Ride

pytestmark = pytest.mark.at_two_instants

BUS = "tcm_bus"
LRT = "macao_lrt"


async def test_a_code_for_three_riders_charges_three_fares_once(ride: Ride, pg: asyncpg.Connection) -> None:
    status, code = await ride.rider.post("/v1/ride-codes", {"city": "macao", "riders": 3})
    assert status == 201, code
    parsed = fmt.decode_text(code["payload"])
    assert isinstance(parsed, fmt.IssuerCode) and parsed.riders == 3
    assert len(base45.decode(code["payload"])) == fmt.GROUP_CODE_SIZE
    gate = await ride.gate(BUS)
    route = ride.stops(BUS)[0]
    answer = await ride.scan(gate, code["payload"], route)
    assert answer["decision"] == "open"
    single = await ride.scan(gate, (await ride.code("macao"))["payload"], ride.stops(BUS)[1])
    assert answer["fare"] == {"amount": 3 * single["fare"]["amount"], "currency": "MOP"}
    again = await ride.scan(gate, code["payload"], route, gate_id="g2")  # still one tap for the group
    assert (again["decision"], again["reason"]) == ("deny", "replayed")
    rule = await pg.fetchval("SELECT fare_rule FROM journeys WHERE id = $1", answer["journey_id"])
    assert "3 riders" in rule


async def test_a_plain_code_is_for_one_rider_and_keeps_its_layout(ride: Ride) -> None:
    code = await ride.code("macao")
    parsed = fmt.decode_text(code["payload"])
    assert isinstance(parsed, fmt.IssuerCode) and parsed.riders == 1
    assert len(base45.decode(code["payload"])) == fmt.ISSUER_CODE_SIZE


async def test_riders_out_of_range_are_400(ride: Ride) -> None:
    for riders in (0, 4, "two"):
        status, body = await ride.rider.post("/v1/ride-codes", {"city": "macao", "riders": riders})
        assert status == 400 and "riders" in body["error"]["details"]["fields"], riders


async def test_a_group_code_is_for_tap_in_only_operators(ride: Ride) -> None:
    _, code = await ride.rider.post("/v1/ride-codes", {"city": "macao", "riders": 2})
    gate = await ride.gate(LRT)
    answer = await ride.scan(gate, code["payload"], ride.stops(LRT)[0])
    assert (answer["decision"], answer["reason"]) == ("deny", "riders_not_accepted")


def test_a_group_code_with_a_bad_rider_count_is_malformed() -> None:
    body = fmt.issuer_code_body(1, 1_700_000_000, 60, 2, b"a" * 8, b"n" * 8, riders=2)
    for riders in (0, 1, 4):
        forged = body[:27] + bytes([riders])
        with pytest.raises(fmt.MalformedCode):
            fmt.parse(forged + b"s" * 64)
    assert fmt.parse(body + b"s" * 64).riders == 2  # type: ignore[union-attr]


async def group_code(ride: Ride, riders: int) -> str:
    status, code = await ride.rider.post("/v1/ride-codes", {"city": "macao", "riders": riders})
    assert status == 201, code
    payload: str = code["payload"]
    return payload


async def fares(pg: asyncpg.Connection) -> list[int]:
    return [r["fare_amount"] for r in await pg.fetch("SELECT fare_amount FROM journeys ORDER BY entry_at")]


async def test_a_group_tapping_again_within_the_double_tap_window_is_charged_once(
    ride: Ride, pg: asyncpg.Connection
) -> None:
    gate = await ride.gate(BUS)
    route = ride.stops(BUS)[0]
    single = ride.operator(BUS).fares.fare(Trip(route, None, ride.clock.now())).amount.amount
    first = await ride.scan(gate, await group_code(ride, 3), route)
    assert first["fare"]["amount"] == 3 * single
    ride.clock.advance(seconds=20)
    again = await ride.scan(gate, await group_code(ride, 3), route, gate_id="g2")
    assert (again["decision"], again["reason"], again["journey_id"]) == (
        "open",
        "double_tap",
        first["journey_id"],
    )
    ride.clock.advance(seconds=20)
    fewer = await ride.scan(gate, await group_code(ride, 2), route, gate_id="g3")
    assert (fewer["decision"], fewer["reason"]) == ("open", "double_tap")
    assert await fares(pg) == [3 * single]  # the group paid once


async def test_a_bigger_group_within_the_window_pays_for_the_riders_not_paid_for(
    ride: Ride, pg: asyncpg.Connection
) -> None:
    gate = await ride.gate(BUS)
    route = ride.stops(BUS)[0]
    single = ride.operator(BUS).fares.fare(Trip(route, None, ride.clock.now())).amount.amount
    alone = await ride.scan(gate, (await ride.code("macao"))["payload"], route)
    assert alone["fare"]["amount"] == single
    ride.clock.advance(seconds=20)
    group = await ride.scan(gate, await group_code(ride, 3), route, gate_id="g2")
    assert group["decision"] == "open"
    # Not a double tap (two companions would ride free), and the first rider does not pay twice.
    assert sum(await fares(pg)) == 3 * single
