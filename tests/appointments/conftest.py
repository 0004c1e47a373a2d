"""A rider with consent, an appointments signing key and counter credentials on the real app."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web

from bayaffairs.config.regions import AdapterBlock
from bayaffairs.handlers.keys import SERVICES
from tests.conftest import AppFactory
from tests.integrations.support import PATIENT_TIMEOUT
from tests.integrations.webhook_notifier.fake_relay import FakeRelay
from tests.support import FAR_AHEAD, INSTANTS, START, Api, MovableClock, test_config

HENGQIN = "hengqin_gasc"
COMMERCIAL = "mo_commercial_registration"  # three counters serve it at Hengqin: capacity 3
SOCIAL = "mo_social_insurance"  # capacity 2
# Hengqin's data stays in Macao (config `data_stays_in`): no consent, no transfer, no names at its
# desks. At Hengqin's remote video counters in Macao the applicant's data does cross the boundary
# to Hengqin's staff (MO -> CN, `served_from`: a consent and a transfer record), and the desks
# see the name and masked number.
VIDEO = "macao_video_counters"
BY_VIDEO = "hq_commercial_registration"  # both video desks (V1, V2) serve it
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
    centre: str = HENGQIN  # where book/booked/slots/counter go unless told
    service: str = COMMERCIAL
    documents: dict[str | None, asyncio.Future[str]] = dataclasses.field(default_factory=dict)

    async def counter(self, centre: str | None = None) -> Api:
        scope = centre or self.centre
        return self.api.as_((await self.services.credentials.issue("counter", scope)).token)

    async def another_rider(self, handle: str, consent: str | None = "CN") -> Api:
        rider = await self.api.sign_in(handle, display_name=f"Rider {handle}")
        if consent:
            status, _ = await rider.post(
                "/v1/me/consents", {"destination": consent, "purpose": "appointment"}
            )
            assert status == 201
        return rider

    async def slots(
        self, day: date, service: str | None = None, centre: str | None = None
    ) -> list[dict[str, Any]]:
        where, what = centre or self.centre, service or self.service
        status, body = await self.api.get(f"/v1/centres/{where}/slots?service={what}&date={day.isoformat()}")
        assert status == 200, body
        return body["items"]

    async def book(
        self,
        start: str,
        service: str | None = None,
        rider: Api | None = None,
        *,
        language: str | None = None,
        **extra: Any,
    ) -> tuple[int, Any]:
        """Without a `document_id`, a service with a quota is booked with the rider's own Macao
        ID (such services need a document); `document_id=None` books without one. `language`:
        the request's Accept-Language (none sent without it)."""
        rider = rider or self.rider
        service_id = service or self.service
        known = self.services.appointments.catalogue.services.get(service_id)
        if "document_id" not in extra and known is not None and (known.quota_per_day or known.quota_per_week):
            extra["document_id"] = await self.own_document(rider)
        body = {"centre_id": self.centre, "service_id": service_id, "start": start, **extra}
        headers = {"Accept-Language": language} if language is not None else {}
        return await rider.post("/v1/appointments", body, headers=headers)

    async def own_document(self, rider: Api) -> str:
        """The rider's own Macao ID (a number of their own, in the holder's sign-in name),
        added once, on first use."""
        key = rider.token  # not id(rider): a freed rider's id is reused by the next one made
        if key not in self.documents:
            self.documents[key] = asyncio.ensure_future(_add_own_document(rider))
        return await self.documents[key]

    async def booked(
        self, start: str, service: str | None = None, rider: Api | None = None, *, language: str | None = None
    ) -> dict[str, Any]:
        status, body = await self.book(start, service, rider, language=language)
        assert status == 201, body
        return body

    def close(self, day: date, centre: str = HENGQIN) -> None:
        """`day` a closed day of the centre, as if config said so (adapter blocks cannot be
        overridden in tests)."""
        catalogue = self.services.appointments.catalogue
        found = catalogue.centres[centre]
        catalogue.centres[centre] = dataclasses.replace(found, closed_days=found.closed_days | {day})


_OWN_NUMBERS = itertools.count(1)


async def _add_own_document(rider: Api) -> str:
    status, me = await rider.get("/v1/me")
    assert status == 200, me
    number = f"5{next(_OWN_NUMBERS):06d}(3)"  # distinct per rider: a person of their own
    body = {
        "type": "macao_id",
        "holder_name": me.get("display_name") or "Rider",
        "number": number,
        "issuing": "MO",
        "expires": FAR_AHEAD,
    }
    status, answer = await rider.post("/v1/me/documents", body)
    assert status == 201, answer
    return str(answer["id"])


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


@pytest.fixture
async def video(desk: Desk) -> Desk:
    """The same app and rider (with the CN consent) booking at the video counters, where the
    data crosses to Hengqin's staff."""
    return dataclasses.replace(desk, centre=VIDEO, service=BY_VIDEO)


async def check_in(counter: Api, person: dict[str, Any]) -> dict[str, Any]:
    """The desk scans the person's signed QR (the only check-in where the data stays home)."""
    status, body = await counter.post(
        f"/v1/counter/appointments/{person['id']}/check-in", {"payload": person["qr"]["payload"]}
    )
    assert status == 200, body
    return dict(body)


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


class SlowRelay(FakeRelay):
    """The fake relay, which runs `after_send` (when set) after each send's work and before its
    answer: a send that takes a long time (the test moves the clock) or during which the world
    changes."""

    after_send: Callable[[], Awaitable[None]] | None = None

    async def _send(self, request: web.Request) -> web.Response:
        answer = await super()._send(request)
        if self.after_send is not None:
            await self.after_send()
        return answer


@pytest.fixture
async def relay() -> AsyncIterator[SlowRelay]:
    async with SlowRelay() as fake:
        yield fake


@pytest.fixture
async def pushed(make_api: AppFactory, clock: MovableClock, config: Any, relay: FakeRelay) -> Desk:
    """The Hengqin agency's notices go through the webhook notifier to a local fake relay."""
    settings = {"url": relay.url + "notifications", "token": relay.token, "timeout_seconds": PATIENT_TIMEOUT}
    block = AdapterBlock("push", "webhook_notifier", True, settings, "tests")
    api = await make_api(dataclasses.replace(config, adapter_blocks=(*config.adapter_blocks, block)))
    services = api.client.server.app[SERVICES]
    await services.transit.issuer_keys.rotate("appointments")
    catalogue = services.appointments.catalogue
    agency = catalogue.agencies["macao_hengqin_services"]
    catalogue.agencies[agency.id] = dataclasses.replace(agency, notifier="push")
    rider = await api.sign_in("mo-resident", display_name="Chan Tai Man")
    status, _ = await rider.post("/v1/me/consents", {"destination": "CN", "purpose": "appointment"})
    assert status == 201
    return Desk(api, rider, services, clock)


def due(desk: Desk, start: str, after: timedelta = timedelta(0)) -> None:
    """The clock at the reminder's time (24 hours before `start`), plus `after`."""
    desk.clock.set(datetime.fromisoformat(start) - timedelta(hours=24) + after)
