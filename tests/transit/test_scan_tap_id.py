"""Idempotent online scans (issue 15 item 6): a gate that lost the answer retries with its own
`tap_id` and gets the first decision again, never `replayed`."""

from __future__ import annotations

import asyncio
from datetime import UTC
from typing import Any

import asyncpg
import pytest

from tests.support import Api
from tests.transit.conftest import Ride

pytestmark = pytest.mark.at_two_instants

METRO = "shenzhen_metro"
BUS = "shenzhen_bus"


def body(ride: Ride, payload: str, station: str, direction: str = "in", **extra: Any) -> dict[str, Any]:
    return {
        "payload": payload,
        "gate_id": "g1",
        "station": station,
        "direction": direction,
        "scanned_at": ride.clock.now().astimezone(UTC).isoformat(),
        **extra,
    }


async def scan(gate: Api, scan_body: dict[str, Any]) -> dict[str, Any]:
    status, answer = await gate.post("/v1/gate/scans", scan_body)
    assert status == 200, answer
    return answer


async def test_a_retry_with_the_same_tap_id_gets_the_first_decision(ride: Ride) -> None:
    gate = await ride.gate(METRO)
    stops = ride.stops(METRO)
    tap_in = body(ride, (await ride.code("shenzhen"))["payload"], stops[0], tap_id="g1-1")
    first = await scan(gate, tap_in)
    assert first["decision"] == "open"
    assert await scan(gate, tap_in) == first
    ride.clock.advance(minutes=20)  # the code has expired since: the retry still gets the answer
    assert await scan(gate, tap_in) == first
    tap_out = body(ride, (await ride.code("shenzhen"))["payload"], stops[-1], "out", tap_id="g1-2")
    out = await scan(gate, tap_out)
    assert out["decision"] == "open" and out["fare"]["amount"] > 0
    assert out["journey_id"] == first["journey_id"]
    assert await scan(gate, tap_out) == out
    # Control: without the tap id, the same code again is a replay.
    replay = await scan(gate, {k: v for k, v in tap_out.items() if k != "tap_id"})
    assert (replay["decision"], replay["reason"]) == ("deny", "replayed")


async def test_the_same_tap_id_with_another_payload_is_409(ride: Ride) -> None:
    gate = await ride.gate(BUS)
    route = ride.stops(BUS)[0]
    assert (await scan(gate, body(ride, (await ride.code("shenzhen"))["payload"], route, tap_id="b-1")))[
        "decision"
    ] == "open"
    other = body(ride, (await ride.code("shenzhen"))["payload"], route, tap_id="b-1")
    status, answer = await gate.post("/v1/gate/scans", other)
    assert (status, answer["error"]["code"]) == (409, "tap_id_reused")
    # The tap id is the gate's own: another gate may use it.
    elsewhere = await scan(gate, {**other, "gate_id": "g2"})
    assert elsewhere["decision"] == "open"


async def test_a_bad_tap_id_is_400(ride: Ride) -> None:
    gate = await ride.gate(BUS)
    payload = (await ride.code("shenzhen"))["payload"]
    for bad in ("x" * 65, "", "has space", 7):
        status, answer = await gate.post(
            "/v1/gate/scans", body(ride, payload, ride.stops(BUS)[0], tap_id=bad)
        )
        assert status == 400 and "tap_id" in answer["error"]["details"]["fields"], bad


async def test_retries_racing_each_other_open_one_journey(ride: Ride, pg: asyncpg.Connection) -> None:
    gate = await ride.gate(BUS)
    route = ride.stops(BUS)[0]
    tap = body(ride, (await ride.code("shenzhen"))["payload"], route, tap_id="race-1")
    answers = await asyncio.gather(*(scan(gate, tap) for _ in range(12)))
    assert {a["decision"] for a in answers} == {"open"}
    assert len({a["journey_id"] for a in answers}) == 1
    assert await pg.fetchval("SELECT count(*) FROM journeys") == 1
    # Control: the same race without a tap id opens once and replays the rest.
    untagged = body(ride, (await ride.code("shenzhen"))["payload"], ride.stops(BUS)[1])
    ride.clock.advance(minutes=5)
    answers = await asyncio.gather(*(scan(gate, untagged) for _ in range(12)))
    assert [a["decision"] for a in answers].count("open") == 1
    assert {a["reason"] for a in answers if a["decision"] == "deny"} == {"replayed"}
