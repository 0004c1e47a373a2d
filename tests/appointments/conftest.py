"""A rider with consent, an appointments signing key and counter credentials on the real app."""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bayaffairs.handlers.keys import SERVICES
from tests.conftest import AppFactory
from tests.support import INSTANTS, START, Api, MovableClock, test_config

HENGQIN = "hengqin_gasc"
COMMERCIAL = "mo_commercial_registration"  # three counters serve it at Hengqin: capacity 3
SOCIAL = "mo_social_insurance"  # capacity 2
HENGQIN_ZONE = ZoneInfo("Asia/Shanghai")
# The clock's day in Hengqin, the same for both test instants (a Wednesday, 10:00 or 01:00), and
# the two days after it that the tests book (Hengqin opens Monday to Saturday).
TODAY = START.astimezone(HENGQIN_ZONE).date()
assert {i.astimezone(HENGQIN_ZONE).date() for i in INSTANTS.values()} == {TODAY}
TOMORROW = TODAY + timedelta(days=1)
DAY_AFTER = TODAY + timedelta(days=2)


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

    def close(self, day: date, centre: str = HENGQIN) -> None:
        """`day` a closed day of the centre, as if config said so (adapter blocks cannot be
        overridden in tests)."""
        catalogue = self.services.appointments.catalogue
        found = catalogue.centres[centre]
        catalogue.centres[centre] = dataclasses.replace(found, closed_days=found.closed_days | {day})


def at(day: date, hhmm: str) -> str:
    """A Hengqin wall time as RFC 3339 with its offset."""
    return f"{day.isoformat()}T{hhmm}:00+08:00"


@pytest.fixture
async def desk(make_api: AppFactory, clock: MovableClock) -> Desk:
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
    api = await make_api(test_config({"rate_limits": {"auth": "0/1", "read": "0/1", "write": "0/1"}}))
    services = api.client.server.app[SERVICES]
    await services.transit.issuer_keys.rotate("appointments")
    rider = await api.sign_in("first")
    return Desk(api, rider, services, clock)


async def riders(desk: Desk, n: int) -> list[Api]:
    return list(await asyncio.gather(*(desk.another_rider(f"racer-{i}") for i in range(n))))
