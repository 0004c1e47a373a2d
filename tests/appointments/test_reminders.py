"""Reminders go out once, at the configured lead time, whatever the number of workers."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest

from bayaffairs.appointments.jobs import Reminders
from tests.appointments.conftest import TOMORROW, Desk, at

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
