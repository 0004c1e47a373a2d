"""A rider with consent, an appointments signing key and counter credentials on the real app."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from bayaffairs.handlers.keys import SERVICES
from tests.conftest import AppFactory
from tests.support import Api, MovableClock, test_config

HENGQIN = "hengqin_gasc"
COMMERCIAL = "mo_commercial_registration"  # three counters serve it at Hengqin: capacity 3
SOCIAL = "mo_social_insurance"  # capacity 2
# Monday 30 Nov 2026, 09:00 in Hengqin (UTC+8): a fixed "now" keeps dates and windows stable.
NOW = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)


@dataclass
class Desk:
    api: Api
    rider: Api
    services: Any
    clock: MovableClock

    async def counter(self, centre: str = HENGQIN) -> Api:
        return self.api.as_((await self.services.credentials.issue("counter", centre)).token)

    async def another_rider(self, handle: str, consent: str | None = "CN") -> Api:
        rider = await self.api.sign_in(handle, display_name=f"Rider {handle}")
        if consent:
            status, _ = await rider.post(
                "/v1/me/consents", {"destination": consent, "purpose": "appointment"}
            )
            assert status == 201
        return rider

    async def slots(
        self, day: date, service: str = COMMERCIAL, centre: str = HENGQIN
    ) -> list[dict[str, Any]]:
        status, body = await self.api.get(
            f"/v1/centres/{centre}/slots?service={service}&date={day.isoformat()}"
        )
        assert status == 200, body
        return body["items"]

    async def book(
        self, start: str, service: str = COMMERCIAL, rider: Api | None = None, **extra: Any
    ) -> tuple[int, Any]:
        return await (rider or self.rider).post(
            "/v1/appointments", {"centre_id": HENGQIN, "service_id": service, "start": start, **extra}
        )

    async def booked(self, start: str, service: str = COMMERCIAL, rider: Api | None = None) -> dict[str, Any]:
        status, body = await self.book(start, service, rider)
        assert status == 201, body
        return body


TUESDAY = date(2026, 12, 1)
WEDNESDAY = date(2026, 12, 2)


def at(day: date, hhmm: str) -> str:
    """A Hengqin wall time as RFC 3339 with its offset."""
    return f"{day.isoformat()}T{hhmm}:00+08:00"


@pytest.fixture
async def desk(make_api: AppFactory, clock: MovableClock) -> Desk:
    clock._now = NOW
    api = await make_api()
    services = api.client.server.app[SERVICES]
    await services.transit.issuer_keys.rotate("appointments")
    rider = await api.sign_in("mo-resident", display_name="Chan Tai Man")
    status, _ = await rider.post("/v1/me/consents", {"destination": "CN", "purpose": "appointment"})
    assert status == 201
    return Desk(api, rider, services, clock)


def days(n: int) -> timedelta:
    return timedelta(days=n)


@pytest.fixture
async def unlimited(make_api: AppFactory, clock: MovableClock) -> Desk:
    """The app with rate limits off: 200 riders sign in from one address."""
    clock._now = NOW
    api = await make_api(test_config({"rate_limits": {"auth": "0/1", "read": "0/1", "write": "0/1"}}))
    services = api.client.server.app[SERVICES]
    await services.transit.issuer_keys.rotate("appointments")
    rider = await api.sign_in("first")
    return Desk(api, rider, services, clock)


async def riders(desk: Desk, n: int) -> list[Api]:
    return list(await asyncio.gather(*(desk.another_rider(f"racer-{i}") for i in range(n))))
