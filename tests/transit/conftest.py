"""A rider, gates and issuer keys on the real app, for the ride-code tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from bayaffairs.handlers.keys import SERVICES
from bayaffairs.transit.network import Operator
from tests.conftest import AppFactory
from tests.support import Api, MovableClock


def uploaded_tap(tap_id: str, payload: str, station: str, direction: str, at: datetime) -> dict[str, Any]:
    """One tap as an offline gate uploads it (gate id named after its station)."""
    return {
        "tap_id": tap_id,
        "payload": payload,
        "gate_id": f"gate-{station}",
        "station": station,
        "direction": direction,
        "scanned_at": at.isoformat(),
    }


@dataclass
class Ride:
    api: Api
    rider: Api
    services: Any
    clock: MovableClock

    def operator(self, operator_id: str) -> Operator:
        return self.services.transit.network.operators[operator_id]

    def stops(self, operator_id: str) -> list[str]:
        return [s.id for s in self.operator(operator_id).info.stops]

    async def gate(self, operator_id: str) -> Api:
        issued = await self.services.credentials.issue("gate", operator_id)
        return self.api.as_(issued.token)

    async def code(self, city: str, rider: Api | None = None) -> dict[str, Any]:
        status, body = await (rider or self.rider).post("/v1/ride-codes", {"city": city})
        assert status == 201, body
        return body

    async def scan(
        self, gate: Api, payload: Any, station: str, direction: str = "in", gate_id: str = "g1"
    ) -> dict[str, Any]:
        status, body = await gate.post(
            "/v1/gate/scans",
            {
                "payload": payload,
                "gate_id": gate_id,
                "station": station,
                "direction": direction,
                "scanned_at": self.clock.now().astimezone(UTC).isoformat(),
            },
        )
        assert status == 200, body
        return body

    async def rides_in(self, operator_id: str, rides: int) -> list[str]:
        """The rider taps in `rides` times at the operator's first stop, two minutes apart (past
        the double-tap window), each with a fresh code: the journeys' ids."""
        gate = await self.gate(operator_id)
        city = self.operator(operator_id).city
        journeys = []
        for _ in range(rides):
            answer = await self.scan(gate, (await self.code(city))["payload"], self.stops(operator_id)[0])
            assert answer["decision"] == "open"
            journeys.append(answer["journey_id"])
            self.clock.advance(minutes=2)
        return journeys

    def offline_tap(self, operator_id: str, tap_id: str, payload: str, at: datetime) -> dict[str, Any]:
        """A tap-in at the operator's first stop, as its offline gate `bus-7` uploads it."""
        return {
            "tap_id": tap_id,
            "payload": payload,
            "gate_id": "bus-7",
            "station": self.stops(operator_id)[0],
            "direction": "in",
            "scanned_at": at.isoformat(),
        }

    async def upload(self, gate: Api, taps: list[dict[str, Any]]) -> None:
        """Upload `taps` (all accepted) and drain them at once (no settle time)."""
        status, result = await gate.post("/v1/gate/taps:batch", {"taps": taps})
        assert (status, result["accepted"]) == (200, len(taps)), result
        await self.services.transit.uploads.drain(settle_seconds=0)


@pytest.fixture
async def ride(make_api: AppFactory, clock: MovableClock) -> Ride:
    api = await make_api()
    services = api.client.server.app[SERVICES]
    await services.transit.issuer_keys.rotate("ride_codes")
    rider = await api.sign_in("rider-one")
    status, _ = await rider.put("/v1/me/wallet", {"currency": "HKD", "provider": "demo"})
    assert status == 200
    return Ride(api, rider, services, clock)
