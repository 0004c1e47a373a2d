"""Hengqin's remote video counters adapter against a local fake of Hengqin's booking system
(the remote counter agency of issue 11 item 11: pushed bookings, refusals, outbox order)."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import pytest

from bayaffairs.adapters.protocols import AgencyEvent
from bayaffairs.errors import PartnerError
from bayaffairs.handlers.keys import SERVICES
from tests.conftest import AppFactory
from tests.integrations.hengqin_remote_counters.fake import FakeAgency
from tests.integrations.support import (
    PATIENT_TIMEOUT,
    SHORT_TIMEOUT,
    build_adapter,
    gives_up_in_time,
    unused_url,
)
from tests.support import FAR_AHEAD, START, Api, MovableClock, next_weekday

CENTRE = "macao_video_counters"  # in Macao, served by video from Hengqin
SERVICE = "hq_social_insurance"  # two desks serve it
CATALOGUE: dict[str, Any] = {
    "name": "Hengqin services",
    "region": "MO",
    "services": [
        {
            "id": "hq_social_insurance",
            "name": "Social insurance",
            "duration_minutes": 15,
            "id_documents": ["macao_id"],
        }
    ],
    "centres": [
        {
            "id": "macao_video_counters",
            "name": "Video counters",
            "address": "Macao",
            "region": "MO",
            "served_from": "CN",
            "time_zone": "Asia/Macau",
            "reference_prefix": "HR",
            "hours": {"mon": ["09:00-12:00"]},
            "counters": [{"id": "V1", "services": ["hq_social_insurance"]}],
        }
    ],
}
EVENT = AgencyEvent(
    key="apt_1:booked:1",
    event="booked",
    appointment_id="apt_1",
    reference="HR-ABC-DEF",
    centre_id=CENTRE,
    service_id=SERVICE,
    start=START + timedelta(days=1),
    end=START + timedelta(days=1, minutes=15),
    fields={"holder_name": "CHAN Tai Man"},
)


def adapter(http: aiohttp.ClientSession, url: str, **extra: Any) -> Any:
    return build_adapter(
        "hengqin_remote_counters",
        {**CATALOGUE, "base_url": url, "api_key": "agency-key", "timeout_seconds": PATIENT_TIMEOUT, **extra},
        http=http,
    )


async def test_a_push_reaches_the_agency_once_even_when_retried(http: aiohttp.ClientSession) -> None:
    async with FakeAgency() as fake:
        agency = adapter(http, fake.url)
        first = await agency.push(EVENT)
        again = await agency.push(EVENT)
    assert first == again == "HQR-0001"
    assert fake.requests == 2 and list(fake.events) == [EVENT.key]
    assert fake.events[EVENT.key]["applicant"] == {"holder_name": "CHAN Tai Man"}


async def test_a_5xx_is_a_partner_error(http: aiohttp.ClientSession) -> None:
    async with FakeAgency() as fake:
        fake.fail_next = 1
        with pytest.raises(PartnerError):
            await adapter(http, fake.url).push(EVENT)


async def test_a_timeout_is_a_partner_error(http: aiohttp.ClientSession) -> None:
    async with FakeAgency() as fake:
        fake.stalled = True  # answers nothing until the fake stops
        async with gives_up_in_time():
            with pytest.raises(PartnerError):
                await adapter(http, fake.url, timeout_seconds=SHORT_TIMEOUT).push(EVENT)


async def test_an_unreachable_agency_and_our_wrong_key_are_partner_errors_not_refusals(
    http: aiohttp.ClientSession,
) -> None:
    with pytest.raises(PartnerError) as unreachable:
        await adapter(http, unused_url()).push(EVENT)
    assert "refused" not in unreachable.value.details
    async with FakeAgency() as fake:
        with pytest.raises(PartnerError) as wrong_key:
            await adapter(http, fake.url, api_key="wrong").push(EVENT)
        # A 401 is about our key, not the booking: retried, never a refusal that cancels it.
        assert "refused" not in wrong_key.value.details
        assert wrong_key.value.details["status"] == "401"
        fake.refuse_next.append(("duplicate_applicant", "Already booked that week"))
        with pytest.raises(PartnerError) as refused:
            await adapter(http, fake.url).push(EVENT)
    assert refused.value.details["refused"] == "duplicate_applicant"
    assert refused.value.details["refusal"] == "Already booked that week"


async def test_without_a_base_url_nothing_is_sent(http: aiohttp.ClientSession) -> None:
    assert await adapter(http, "").push(EVENT) == ""


async def test_bookings_reach_the_agency_through_the_outbox_and_survive_its_outage(
    make_api: AppFactory, clock: MovableClock, config: Any, pg: Any
) -> None:
    async with FakeAgency() as fake:
        services, rider = await hengqin_app(make_api, config, fake)
        fake.fail_next = 1
        status, body = await rider.post(
            "/v1/appointments",
            {
                "centre_id": CENTRE,
                "service_id": SERVICE,
                "start": f"{next_weekday(clock.today(), 'thu')}T09:00:00+08:00",
                "document_id": await own_macao_id(rider),
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
    assert events[0]["applicant"] == {
        "holder_name": "CHAN Tai Man",
        "number_masked": "1*****7(8)",
    }  # the document booked with


async def hengqin_app(make_api: AppFactory, config: Any, fake: FakeAgency) -> tuple[Any, Any]:
    """The app with Hengqin's system at the fake, and a Macao rider with consent for CN (the
    staff serving by video are in Hengqin)."""
    blocks = tuple(
        dataclasses.replace(
            b,
            settings={
                **b.settings,
                "base_url": fake.url,
                "api_key": "agency-key",
                "timeout_seconds": PATIENT_TIMEOUT,
            },
        )
        if b.instance == "hengqin_remote_counters"
        else b
        for b in config.adapter_blocks
    )
    api = await make_api(dataclasses.replace(config, adapter_blocks=blocks))
    services = api.client.server.app[SERVICES]
    await services.transit.issuer_keys.rotate("appointments")
    rider = await api.sign_in("mo-resident", display_name="Chan Tai Man")
    await rider.post("/v1/me/consents", {"destination": "CN", "purpose": "appointment"})
    return services, rider


async def own_macao_id(rider: Api) -> str:
    """The rider's Macao ID, added on first use: the video services have a quota per person, so
    they need the applicant's document."""
    status, listed = await rider.get("/v1/me/documents")
    assert status == 200, listed
    if listed["items"]:
        return str(listed["items"][0]["id"])
    body = {"type": "macao_id", "holder_name": "CHAN Tai Man", "number": "1234567(8)", "issuing": "MO"}
    status, added = await rider.post("/v1/me/documents", {**body, "expires": FAR_AHEAD})
    assert status == 201, added
    return str(added["id"])


async def book_video_counter(rider: Api, clock: MovableClock, at: str) -> dict[str, Any]:
    """A booking at the video counters at `at` on the coming Thursday, with the rider's own Macao ID."""
    status, body = await rider.post(
        "/v1/appointments", {**video_counter(clock, at), "document_id": await own_macao_id(rider)}
    )
    assert status == 201, body
    return body


def video_counter(clock: MovableClock, hhmm: str) -> dict[str, str]:
    day = next_weekday(clock.today(), "thu")
    return {
        "centre_id": CENTRE,
        "service_id": SERVICE,
        "start": f"{day}T{hhmm}:00+08:00",
    }


async def test_a_refused_booking_is_cancelled_with_the_agencys_reason_and_the_rider_told(
    make_api: AppFactory, clock: MovableClock, config: Any, pg: Any
) -> None:
    async with FakeAgency() as fake:
        services, rider = await hengqin_app(make_api, config, fake)
        kept = await book_video_counter(rider, clock, "09:00")
        body = await book_video_counter(rider, clock, "10:00")
        fake.refuse_next.append(("duplicate_applicant", "The applicant already has a booking that week"))
        outbox = services.appointments.outbox
        assert await outbox.drain() == 1  # the first is accepted, the second refused
        status, refused = await rider.get(f"/v1/appointments/{body['id']}")
        assert (status, refused["status"]) == (200, "cancelled")
        assert refused["cancel_reason"] == "The applicant already has a booking that week"
        status, other = await rider.get(f"/v1/appointments/{kept['id']}")
        assert other["status"] == "booked" and other["cancel_reason"] is None  # the control
        # Not retried, and the desk is free again at once (no cooldown for a refusal).
        clock.advance(hours=2)
        assert await outbox.drain() == 0 and fake.requests == 2
        slots = await services.appointments.booking.slots(
            CENTRE, SERVICE, clock.today(), clock.today() + timedelta(days=8)
        )
        start = datetime.fromisoformat(body["start"])
        assert next(s for s in slots if s.start == start).remaining == 2
        notifier = services.appointments.reminders.notifier("demo_notifier")
        before = len(notifier.sent)
        await services.appointments.notices.drain()
        await services.appointments.notices.drain()
        told = [m for m in list(notifier.sent)[before:] if body["reference"] in m.notification.body.en]
        assert len(told) == 1
        assert "already has a booking that week" in told[0].notification.body.en


async def test_a_reschedules_cancel_reaches_the_agency_before_its_new_booking(
    make_api: AppFactory, clock: MovableClock, config: Any, pg: Any
) -> None:
    async with FakeAgency() as fake:
        services, rider = await hengqin_app(make_api, config, fake)
        body = await book_video_counter(rider, clock, "09:00")
        outbox = services.appointments.outbox
        assert await outbox.drain() == 1
        status, moved = await rider.post(
            f"/v1/appointments/{body['id']}/reschedule", {"start": video_counter(clock, "11:00")["start"]}
        )
        assert status == 201, moved
        fake.unavailable_for = {"cancelled"}  # the cancel fails for a while
        for _ in range(3):
            clock.advance(hours=1)
            assert await outbox.drain() == 0  # the new booking waits behind its cancel
        fake.unavailable_for = set()
        clock.advance(hours=1)
        assert await outbox.drain() == 1  # the cancel
        assert await outbox.drain() == 1  # then the booking it was holding back
    assert [(e["event"], e["appointment_id"]) for e in fake.events.values()] == [
        ("booked", body["id"]),
        ("cancelled", body["id"]),
        ("booked", moved["id"]),
    ]
