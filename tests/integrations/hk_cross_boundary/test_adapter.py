"""The Hong Kong cross-boundary services adapter against a local fake of the agency's system."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from bayaffairs.adapters.protocols import AgencyEvent
from bayaffairs.errors import PartnerError
from bayaffairs.handlers.keys import SERVICES
from tests.conftest import AppFactory
from tests.integrations.hk_cross_boundary.fake import FakeAgency
from tests.integrations.support import build_adapter, unused_url
from tests.support import START, MovableClock, next_weekday

CATALOGUE: dict[str, Any] = {
    "name": "HK services",
    "region": "HK",
    "services": [{"id": "hk_tax_enquiry", "name": "Tax", "duration_minutes": 15, "id_documents": ["hkid"]}],
    "centres": [
        {
            "id": "qianhai_hk_services",
            "name": "Qianhai",
            "address": "Qianhai",
            "region": "CN",
            "time_zone": "Asia/Shanghai",
            "reference_prefix": "QH",
            "hours": {"mon": ["09:00-12:00"]},
            "counters": [{"id": "Q1", "services": ["hk_tax_enquiry"]}],
        }
    ],
}
EVENT = AgencyEvent(
    key="apt_1:booked:1",
    event="booked",
    appointment_id="apt_1",
    reference="QH-ABC-DEF",
    centre_id="qianhai_hk_services",
    service_id="hk_tax_enquiry",
    start=START + timedelta(days=1),
    end=START + timedelta(days=1, minutes=15),
    fields={"holder_name": "CHAN Tai Man"},
)


def adapter(http: aiohttp.ClientSession, url: str, **extra: Any) -> Any:
    return build_adapter(
        "hk_cross_boundary", {**CATALOGUE, "base_url": url, "api_key": "agency-key", **extra}, http=http
    )


async def test_a_push_reaches_the_agency_once_even_when_retried(http: aiohttp.ClientSession) -> None:
    async with FakeAgency() as fake:
        agency = adapter(http, fake.url)
        first = await agency.push(EVENT)
        again = await agency.push(EVENT)
    assert first == again == "HKG-0001"
    assert fake.requests == 2 and list(fake.events) == [EVENT.key]
    assert fake.events[EVENT.key]["applicant"] == {"holder_name": "CHAN Tai Man"}


async def test_a_5xx_is_a_partner_error(http: aiohttp.ClientSession) -> None:
    async with FakeAgency() as fake:
        fake.fail_next = 1
        with pytest.raises(PartnerError):
            await adapter(http, fake.url).push(EVENT)


async def test_a_timeout_is_a_partner_error(http: aiohttp.ClientSession) -> None:
    async with FakeAgency() as fake:
        fake.stalled = True
        with pytest.raises(PartnerError):
            await adapter(http, fake.url, timeout_seconds=0.2).push(EVENT)


async def test_an_unreachable_agency_and_a_refusal_are_partner_errors(http: aiohttp.ClientSession) -> None:
    with pytest.raises(PartnerError):
        await adapter(http, unused_url()).push(EVENT)
    async with FakeAgency() as fake:
        with pytest.raises(PartnerError) as refused:
            await adapter(http, fake.url, api_key="wrong").push(EVENT)
    assert refused.value.details["refused"] == "unauthorised"


async def test_without_a_base_url_nothing_is_sent(http: aiohttp.ClientSession) -> None:
    assert await adapter(http, "").push(EVENT) == ""


async def test_bookings_reach_the_agency_through_the_outbox_and_survive_its_outage(
    make_api: AppFactory, clock: MovableClock, config: Any, pg: Any
) -> None:
    async with FakeAgency() as fake:
        blocks = tuple(
            dataclasses.replace(b, settings={**b.settings, "base_url": fake.url, "api_key": "agency-key"})
            if b.instance == "hk_cross_boundary"
            else b
            for b in config.adapter_blocks
        )
        api = await make_api(dataclasses.replace(config, adapter_blocks=blocks))
        services = api.client.server.app[SERVICES]
        await services.transit.issuer_keys.rotate("appointments")
        rider = await api.sign_in("hk-resident", display_name="Chan Tai Man")
        await rider.post("/v1/me/consents", {"destination": "CN", "purpose": "appointment"})
        fake.fail_next = 1
        status, body = await rider.post(
            "/v1/appointments",
            {
                "centre_id": "qianhai_hk_services",
                "service_id": "hk_tax_enquiry",
                "start": f"{next_weekday(clock.today(), 'thu')}T09:00:00+08:00",
            },
        )
        assert status == 201, body  # the agency being down does not fail the booking
        outbox = services.appointments.outbox
        assert await outbox.drain() == 0  # 503: retried later
        row = await pg.fetchrow("SELECT attempts, sent_at, last_error FROM agency_outbox")
        assert row["attempts"] == 1 and row["sent_at"] is None and row["last_error"]
        clock.advance(minutes=2)
        assert await outbox.drain() == 1
        await rider.post(f"/v1/appointments/{body['id']}/cancellation")
        assert await outbox.drain() == 1
    events = list(fake.events.values())
    assert [e["event"] for e in events] == ["booked", "cancelled"]
    assert events[0]["reference"] == body["reference"]
    assert events[0]["applicant"] == {"holder_name": "Chan Tai Man", "number_masked": ""}
