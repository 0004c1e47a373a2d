"""Reminders go out once, at the configured lead time, whatever the number of workers, through
an outbox of notices with the notifier's idempotency key, and never at or after the start."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from bayaffairs.appointments.jobs import Reminders
from bayaffairs.appointments.notices import LEASE
from bayaffairs.config.regions import AdapterBlock
from bayaffairs.db.queries import appointment_notices as nq
from bayaffairs.handlers.keys import SERVICES
from tests.appointments.conftest import TOMORROW, Desk, at
from tests.conftest import AppFactory
from tests.integrations.webhook_notifier.fake_relay import FakeRelay
from tests.support import MovableClock

pytestmark = pytest.mark.at_two_instants


async def test_a_reminder_is_sent_once_at_the_lead_time_even_by_several_workers(desk: Desk) -> None:
    start = at(TOMORROW, "14:00")  # 28 or 37 hours ahead: the app's own job finds nothing due yet
    body = await desk.booked(start)
    notifier = desk.services.appointments.reminders.notifier("demo_notifier")
    sent_before = len(notifier.sent)
    reminders = desk.services.appointments.reminders
    assert await reminders.send_due() == 0  # more than 24 hours before: not yet (lead time 24 h)
    desk.clock.set(datetime.fromisoformat(start) - timedelta(hours=23, minutes=59))
    workers = [
        Reminders(reminders.db, reminders.clock, reminders.catalogue, reminders.notifier) for _ in range(4)
    ]
    counts = await asyncio.gather(*(w.send_due() for w in workers * 2))
    assert sum(counts) == 1
    mine = [
        m for m in list(notifier.sent)[sent_before:] if m.notification.dedupe_key == f"reminder:{body['id']}"
    ]
    assert len(mine) == 1
    assert body["reference"] in mine[0].notification.body.en


@pytest.fixture
async def relay() -> AsyncIterator[FakeRelay]:
    async with FakeRelay() as fake:
        yield fake


@pytest.fixture
async def pushed(make_api: AppFactory, clock: MovableClock, config: Any, relay: FakeRelay) -> Desk:
    """The Hengqin agency's notices go through the webhook notifier to a local fake relay."""
    settings = {"url": relay.url + "notifications", "token": relay.token, "timeout_seconds": 0.5}
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


async def test_a_reminder_written_by_a_worker_that_died_is_still_sent_once(
    pushed: Desk, relay: FakeRelay, pg: Any
) -> None:
    start = at(TOMORROW, "14:00")
    body = await pushed.booked(start)
    reminders = pushed.services.appointments.reminders
    due(pushed, start)
    # A worker marks the appointment reminded and dies: the notice is in the same transaction.
    assert await reminders.enqueue_due() == 1
    assert relay.calls["send"] == 0
    # The next worker sends it; the relay delivers it but its answer is lost (503 after the work).
    relay.fail_next("send", 503, after_work=True)
    assert await reminders.send_due() == 0
    assert len(relay.deliveries) == 1
    # Retried with the same idempotency key: the relay answers the first message, delivers nothing.
    due(pushed, start, timedelta(minutes=2))
    assert await reminders.send_due() == 1
    assert relay.calls["send"] == 2 and len(relay.deliveries) == 1
    assert relay.deliveries[0].key == f"reminder:{body['id']}"
    due(pushed, start, timedelta(hours=1))
    assert await reminders.send_due() == 0 and relay.calls["send"] == 2
    row = await pg.fetchrow("SELECT sent_at, attempts FROM appointment_notices")
    assert row["sent_at"] is not None and row["attempts"] == 2


async def test_a_worker_dying_mid_send_leaves_the_notice_to_the_next_after_its_lease(
    pushed: Desk, relay: FakeRelay, pg: Any
) -> None:
    start = at(TOMORROW, "14:00")
    await pushed.booked(start)
    reminders = pushed.services.appointments.reminders
    due(pushed, start)
    await reminders.enqueue_due()
    async with reminders.db.acquire() as conn:  # leased by a worker that then dies
        assert len(await nq.claim_due(conn, pushed.clock.now(), 10, pushed.clock.now() + LEASE)) == 1
    assert await reminders.send_due() == 0  # leased: nobody else sends it yet
    due(pushed, start, LEASE)
    assert await reminders.send_due() == 1 and len(relay.deliveries) == 1


async def test_no_reminder_is_sent_at_or_after_the_start(pushed: Desk, relay: FakeRelay, pg: Any) -> None:
    start = at(TOMORROW, "14:00")
    await pushed.booked(start)
    reminders = pushed.services.appointments.reminders
    relay.fail_next("send", 503, times=24)
    due(pushed, start)
    for hours in range(0, 24):  # the relay is down all day: retried, each time failing
        due(pushed, start, timedelta(hours=hours, minutes=1))
        assert await reminders.send_due() == 0
    tries = relay.calls["send"]
    assert tries >= 24
    # The relay is back (its 24 failures are used up), but the appointment has started.
    due(pushed, start, timedelta(hours=24))
    assert await reminders.send_due() == 0
    due(pushed, start, timedelta(hours=25))
    assert await reminders.send_due() == 0
    assert relay.calls["send"] == tries and relay.deliveries == []
    row = await pg.fetchrow("SELECT sent_at, dropped_at, last_error FROM appointment_notices")
    assert row["sent_at"] is None and row["dropped_at"] is not None and row["last_error"] == "too late"


async def test_a_reminder_found_after_the_start_is_never_written(
    pushed: Desk, relay: FakeRelay, pg: Any
) -> None:
    start = at(TOMORROW, "14:00")
    await pushed.booked(start)
    due(pushed, start, timedelta(hours=24, minutes=5))  # the job was down until after the start
    assert await pushed.services.appointments.reminders.send_due() == 0
    assert relay.calls["send"] == 0
    assert await pg.fetchval("SELECT count(*) FROM appointment_notices") == 0


async def test_a_cancelled_appointments_reminder_is_dropped_unsent(pushed: Desk, relay: FakeRelay) -> None:
    start = at(TOMORROW, "14:00")
    body = await pushed.booked(start)
    reminders = pushed.services.appointments.reminders
    relay.fail_next("send", 503)
    due(pushed, start)
    assert await reminders.send_due() == 0  # written, first send failed
    status, _ = await pushed.rider.post(f"/v1/appointments/{body['id']}/cancellation")
    assert status == 200
    due(pushed, start, timedelta(minutes=5))
    assert await reminders.send_due() == 0
    assert relay.deliveries == []
