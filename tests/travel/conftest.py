"""A rider with a wallet and documents, carriers' devices and ticket keys, on the real app."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from bayaffairs.adapters.protocols import (
    CarrierConfirmation,
    CarrierHold,
    CarrierHoldRequest,
    CarrierPassenger,
    CarrierRefused,
)
from bayaffairs.config import Config
from bayaffairs.errors import PartnerError
from bayaffairs.handlers.keys import SERVICES
from tests.conftest import AppFactory
from tests.integrations.support import PATIENT_TIMEOUT, gives_up_in_time
from tests.integrations.turbojet.fake_carrier import FakeCarrier
from tests.integrations.wallet_gateway.fake_gateway import FakeGateway
from tests.support import A_YEAR_AHEAD, FAR_AHEAD, Api, MovableClock, test_config

HKID = {
    "type": "hkid",
    "holder_name": "Chan Tai Man",
    "number": "A123456(3)",
    "issuing": "HK",
    "expires": FAR_AHEAD,
}
HRP = {
    "type": "home_return_permit",
    "holder_name": "Chan Tai Man",
    "number": "H12345678",
    "issuing": "CN",
    "expires": FAR_AHEAD,
}
PERMIT = {
    "type": "exit_entry_permit",
    "holder_name": "Li Na",
    "number": "C12345678",
    "issuing": "CN",
    "expires": FAR_AHEAD,
    "date_of_birth": "1990-04-02",
    "endorsements": [{"type": "G", "destination": "HK", "expires": A_YEAR_AHEAD, "entries": 1}],
}
HONG_KONG = ZoneInfo("Asia/Hong_Kong")
HZMB = "hzmb_bus"  # 50 standard seats per departure, HK Port -> Macao Port among its routes


def hzmb_fare(departs_at: datetime) -> int:
    """The HZMB bus's standard fare for a departure (config/cities/hong_kong.toml): HK$70 from
    00:00 to 06:00 Hong Kong time, HK$65 by day."""
    return 7000 if departs_at.astimezone(HONG_KONG).hour < 6 else 6500


def hkid_number(n: int) -> str:
    """A valid HKID number, a different one for each n (its check digit computed)."""
    prefix, digits = "ABCDEGHKMPRTWZ"[n % 14], f"{n // 14:06d}"
    values = [36, ord(prefix) - 55, *map(int, digits)]
    remainder = (11 - sum(v * w for v, w in zip(values, range(9, 1, -1), strict=True)) % 11) % 11
    return f"{prefix}{digits}({'A' if remainder == 10 else remainder})"


@dataclass
class Trip:
    api: Api
    rider: Api
    services: Any
    clock: MovableClock
    pg: asyncpg.Connection

    async def document(self, doc: dict[str, Any], rider: Api | None = None) -> str:
        status, body = await (rider or self.rider).post("/v1/me/documents", doc)
        assert status == 201, body
        return str(body["id"])

    async def people(self, count: int, rider: Api | None = None, first: int = 100) -> list[str]:
        """Documents of `count` different people (HKIDs), held by the rider."""
        return [
            await self.document(
                {**HKID, "number": hkid_number(first + i), "holder_name": f"Person {i}"}, rider
            )
            for i in range(count)
        ]

    async def crowd(self, people: int, per_rider: int = 5) -> list[tuple[Api, str]]:
        """`people` different passengers, each a document of their own, held by as many riders
        as `max_active_holds` (5 by default) asks for: (rider, document id) pairs."""
        out: list[tuple[Api, str]] = []
        for r in range((people + per_rider - 1) // per_rider):
            rider = await signed_in_with_wallet(self.api, f"crowd-{r}")
            count = min(per_rider, people - len(out))
            out += [(rider, d) for d in await self.people(count, rider, first=1000 + len(out))]
        return out

    async def departure(self, carrier: str = HZMB, route: str = "hk_macao", hours: float = 3) -> str:
        """A departure of `route` at least `hours` from now."""
        row = await self.pg.fetchrow(
            "SELECT id FROM travel_departures WHERE carrier = $1 AND route = $2 AND departs_at > $3"
            " ORDER BY departs_at LIMIT 1",
            carrier,
            route,
            self.clock.now() + timedelta(hours=hours),
        )
        assert row is not None, f"no departure of {carrier}.{route} materialised"
        return str(row["id"])

    async def departs_at(self, departure_id: str) -> datetime:
        found = await self.pg.fetchval("SELECT departs_at FROM travel_departures WHERE id = $1", departure_id)
        assert isinstance(found, datetime)
        return found

    async def hold(
        self,
        departure_id: str,
        docs: list[str],
        fare_class: str = "standard",
        rider: Api | None = None,
        **kw: Any,
    ) -> tuple[int, Any]:
        body = {
            "departure_id": departure_id,
            "fare_class": fare_class,
            "passengers": [{"document_id": d} for d in docs],
        }
        return await (rider or self.rider).post("/v1/travel/bookings", body, **kw)

    async def carrier_device(self, carrier: str = HZMB) -> Api:
        issued = await self.services.credentials.issue("carrier", carrier)
        return self.api.as_(issued.token)

    async def seats(self, departure_id: str, fare_class: str = "standard") -> tuple[int, int, int]:
        row = await self.pg.fetchrow(
            "SELECT capacity, held, sold FROM travel_inventory WHERE departure_id = $1 AND fare_class = $2",
            departure_id,
            fare_class,
        )
        return row["capacity"], row["held"], row["sold"]


async def signed_in_with_wallet(api: Api, handle: str, currency: str = "HKD") -> Api:
    rider = await api.sign_in(handle)
    status, body = await rider.put("/v1/me/wallet", {"currency": currency, "provider": "demo"})
    assert status == 200, body
    return rider


@pytest.fixture
async def trip(make_api: AppFactory, clock: MovableClock, pg: asyncpg.Connection) -> Trip:
    api = await make_api()
    services = api.client.server.app[SERVICES]
    await services.transit.issuer_keys.rotate("tickets")
    rider = await signed_in_with_wallet(api, "traveller")
    return Trip(api, rider, services, clock, pg)


TURBOJET = "turbojet"  # the remote ferry: its booking API played by FakeCarrier


@dataclass
class Remote:
    """The app with TurboJET and the rider's wallet on real HTTP adapters pointed at fakes."""

    trip: Trip
    carrier: FakeCarrier
    gateway: FakeGateway

    async def departure(self) -> str:
        return await self.trip.departure(TURBOJET, "sheung_wan_macao")

    async def seats(self, departure_id: str) -> tuple[int, int, int]:
        return await self.trip.seats(departure_id, "economy")

    async def hold(self, departure_id: str, docs: list[str], **kw: Any) -> tuple[int, Any]:
        return await self.trip.hold(departure_id, docs, "economy", **kw)

    async def payments(self) -> list[tuple[str, bool, int]]:
        rows = await self.trip.pg.fetch(
            "SELECT kind, succeeded, amount FROM travel_payments ORDER BY created_at, id"
        )
        return [(r["kind"], r["succeeded"], r["amount"]) for r in rows]


CARRIER_TIMEOUT = PATIENT_TIMEOUT
"""`remote`'s carrier_timeout_seconds: patient, so a test not about timeouts never races the
wall clock. A test about a carrier too slow shortens it around one call (`impatient`)."""
SHORT_CARRIER_TIMEOUT = 0.3


def remote_config(
    carrier: FakeCarrier,
    gateway: FakeGateway,
    *,
    client_timeout_seconds: float = 2 * CARRIER_TIMEOUT,
    **travel: Any,
) -> Config:
    """The test config with `[adapters.turbojet]` (disabled in config/cities/hong_kong.toml)
    enabled against `carrier`, and `wallet_gateway` against `gateway`; both HTTP clients give
    up after `client_timeout_seconds`."""
    config = test_config(
        {
            "travel": {"carrier_timeout_seconds": CARRIER_TIMEOUT, "sweep_seconds": 3600.0, **travel},
            "adapters": {"wallet_gateway": {"enabled": True, **gateway.settings(client_timeout_seconds)}},
        }
    )
    remote = {"base_url": carrier.url, "api_key": carrier.api_key, "timeout_seconds": client_timeout_seconds}
    blocks = tuple(
        dataclasses.replace(b, enabled=True, settings={**b.settings, **remote})
        if b.instance == TURBOJET
        else b
        for b in config.adapter_blocks
    )
    return dataclasses.replace(config, adapter_blocks=blocks)


async def open_remote(
    make_api: AppFactory,
    clock: MovableClock,
    pg: asyncpg.Connection,
    carrier: FakeCarrier,
    gateway: FakeGateway,
    **config: Any,
) -> Remote:
    api = await make_api(remote_config(carrier, gateway, **config))
    services = api.client.server.app[SERVICES]
    await services.transit.issuer_keys.rotate("tickets")
    rider = await api.sign_in("ferry-rider")
    status, body = await rider.put("/v1/me/wallet", {"currency": "HKD", "provider": "wallet_gateway"})
    assert status == 200, body
    return Remote(Trip(api, rider, services, clock, pg), carrier, gateway)


@pytest.fixture
async def remote(make_api: AppFactory, clock: MovableClock, pg: asyncpg.Connection) -> AsyncIterator[Remote]:
    """Our carrier timeout (CARRIER_TIMEOUT, or SHORT_CARRIER_TIMEOUT inside `impatient`) is
    shorter than the HTTP clients' own (twice CARRIER_TIMEOUT), so a slow partner is our timeout
    (504), not a client error (502)."""
    async with FakeCarrier(clock) as carrier, FakeGateway(clock) as gateway:
        yield await open_remote(make_api, clock, pg, carrier, gateway)


@pytest.fixture
async def patient_remote(
    make_api: AppFactory, clock: MovableClock, pg: asyncpg.Connection
) -> AsyncIterator[Remote]:
    """`remote` for tests that hold a fake's answers (FaultyPartner.hold) while they act: our
    timeout (30 s) and the clients' (60 s) outlast the fakes' HOLD_SAFETY_SECONDS, so a held
    call is answered when the test releases it, however slow the machine."""
    async with FakeCarrier(clock) as carrier, FakeGateway(clock) as gateway:
        yield await open_remote(
            make_api, clock, pg, carrier, gateway, carrier_timeout_seconds=30.0, client_timeout_seconds=60.0
        )


@contextlib.asynccontextmanager
async def impatient(remote: Remote) -> AsyncIterator[None]:
    """Our carrier timeout at SHORT_CARRIER_TIMEOUT for the calls made inside only. For the one
    call a test makes to a carrier that holds or stalls its answer (`carrier.hold(verb)`,
    `stall_next`, never a `delay` just past the timeout), so our timeout fires first however
    loaded the machine; the test's other calls keep the patient CARRIER_TIMEOUT. The calls must
    end within GAVE_UP_WITHIN, which only our short timeout can do (the HTTP clients wait twice
    CARRIER_TIMEOUT)."""
    carriers = remote.trip.services.travel.carriers
    patient, carriers.timeout_seconds = carriers.timeout_seconds, SHORT_CARRIER_TIMEOUT
    try:
        async with gives_up_in_time():
            yield
    finally:
        carriers.timeout_seconds = patient


class FlakyCarrier:
    """A carrier's booking API that fails the next calls of a verb in a chosen way, then works."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.faults: dict[str, list[str]] = {"hold": [], "confirm": [], "cancel": []}
        self.calls: list[tuple[str, str]] = []

    def describe(self) -> Any:
        return self.inner.describe()

    def timetable(self) -> Any:
        return self.inner.timetable()

    async def _maybe_fail(self, verb: str) -> None:
        if self.faults.get(verb):
            fault = self.faults[verb].pop(0)
            if fault == "error":
                raise PartnerError(details={"status": 500})
            if fault == "hang":
                await asyncio.sleep(30)
            if fault == "refuse":
                raise CarrierRefused("sold_out")

    async def hold(self, request: CarrierHoldRequest) -> CarrierHold:
        self.calls.append(("hold", request.reference))
        await self._maybe_fail("hold")
        return await self.inner.hold(request)

    async def confirm(self, reference: str, passengers: Sequence[CarrierPassenger]) -> CarrierConfirmation:
        self.calls.append(("confirm", reference))
        await self._maybe_fail("confirm")
        return await self.inner.confirm(reference, passengers)

    async def release(self, reference: str) -> None:
        self.calls.append(("release", reference))

    async def cancel(self, reference: str) -> None:
        self.calls.append(("cancel", reference))
        await self._maybe_fail("cancel")


@pytest.fixture
async def flaky(make_api: AppFactory, clock: MovableClock, pg: Any) -> tuple[Trip, FlakyCarrier]:
    api = await make_api(test_config({"travel": {"carrier_timeout_seconds": 0.3}}))
    services = api.client.server.app[SERVICES]
    await services.transit.issuer_keys.rotate("tickets")
    carriers = services.travel.carriers
    carrier = FlakyCarrier(carriers.by_id[HZMB].adapter)
    carriers.by_id[HZMB] = dataclasses.replace(carriers.by_id[HZMB], adapter=carrier)
    rider = await signed_in_with_wallet(api, "traveller")
    return Trip(api, rider, services, clock, pg), carrier
