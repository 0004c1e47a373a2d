"""The whole app on a fixed clock, with signing keys for codes, tickets and appointment QRs, and
a rider with a wallet: what exports, deletions and retention are tried against."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from bayaffairs.config import Config
from bayaffairs.handlers.keys import SERVICES
from tests.appointments.conftest import BY_VIDEO, HENGQIN, SOCIAL
from tests.conftest import AppFactory
from tests.support import START, Api, MovableClock, test_config
from tests.transit.conftest import Ride
from tests.travel.conftest import HKID, HZMB, Trip, signed_in_with_wallet

# The test clock's start (a Wednesday, 10:00 in the Bay Area): every date below is relative to it.
NOW = START
MACAO_ID = {
    "type": "macao_id",
    "holder_name": "CHAN Tai Man",
    "number": "1234567(8)",
    "issuing": "MO",
    "expires": (NOW + timedelta(days=3 * 365)).date().isoformat(),
}
DOCUMENT = {**HKID, "expires": (NOW + timedelta(days=3 * 365)).date().isoformat()}


@dataclass
class World:
    api: Api
    rider: Api
    services: Any
    clock: MovableClock
    pg: asyncpg.Connection

    @property
    def trip(self) -> Trip:
        return Trip(self.api, self.rider, self.services, self.clock, self.pg)

    @property
    def ride(self) -> Ride:
        return Ride(self.api, self.rider, self.services, self.clock)

    async def user_id(self, rider: Api | None = None) -> str:
        status, me = await (rider or self.rider).get("/v1/me")
        assert status == 200, me
        return str(me["id"])

    async def paid_booking(
        self, rider: Api | None = None, hours: float = 3, doc: dict[str, Any] = DOCUMENT
    ) -> Any:
        """A confirmed booking of the HZMB shuttle `hours` from now (one passenger)."""
        rider = rider or self.rider
        document = await self.trip.document(doc, rider=rider)
        departure = await self.trip.departure(HZMB, "hk_macao", hours=hours)
        status, held = await self.trip.hold(departure, [document], rider=rider)
        assert status == 201, held
        status, paid = await rider.post(f"/v1/travel/bookings/{held['id']}/payment")
        assert status == 200, paid
        return paid

    async def appointment(
        self, rider: Api | None = None, days: int = 1, hhmm: str = "10:00", centre: str = HENGQIN
    ) -> Any:
        """A booked appointment `days` from today with a Macao ID: at Hengqin (the data stays in
        Macao: nothing is transferred), or at the video counters (`VIDEO`: sent to Hengqin's
        staff, with the consent: a transfer record)."""
        rider = rider or self.rider
        status, _ = await rider.post("/v1/me/consents", {"destination": "CN", "purpose": "appointment"})
        assert status in (200, 201)
        document, service = MACAO_ID, SOCIAL if centre == HENGQIN else BY_VIDEO
        status, doc = await rider.post("/v1/me/documents", document)
        assert status in (201, 409), doc
        if status == 409:
            _, docs = await rider.get("/v1/me/documents")
            doc = next(d for d in docs["items"] if d["type"] == document["type"])
        day = (NOW.date() + timedelta(days=days)).isoformat()  # NOW is in Bay Area time
        status, booked = await rider.post(
            "/v1/appointments",
            {
                "centre_id": centre,
                "service_id": service,
                "start": f"{day}T{hhmm}:00+08:00",
                "document_id": doc["id"],
            },
        )
        assert status == 201, booked
        return booked


MakeWorld = Callable[..., Awaitable[World]]


@pytest.fixture
async def make_world(make_api: AppFactory, clock: MovableClock, pg: asyncpg.Connection) -> MakeWorld:
    async def build(config: Config | None = None, **privacy: Any) -> World:
        clock.set(NOW)
        if privacy:
            config = test_config({"privacy": privacy})
        api = await make_api(config)
        services = api.client.server.app[SERVICES]
        for issuer in ("ride_codes", "tickets", "appointments"):
            await services.transit.issuer_keys.rotate(issuer)
        rider = await signed_in_with_wallet(api, "privacy-rider")
        return World(api, rider, services, clock, pg)

    return build


@pytest.fixture
async def world(make_world: MakeWorld) -> World:
    return await make_world()
