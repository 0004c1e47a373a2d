"""Reminders go out once, at the configured lead time, whatever the number of workers."""

from __future__ import annotations

import asyncio

from bayaffairs.appointments.jobs import Reminders
from tests.appointments.conftest import TUESDAY, Desk, at


async def test_a_reminder_is_sent_once_at_the_lead_time_even_by_several_workers(desk: Desk) -> None:
    body = await desk.booked(at(TUESDAY, "10:00"))
    notifier = desk.services.appointments.reminders.notifier("demo_notifier")
    sent_before = len(notifier.sent)
    reminders = desk.services.appointments.reminders
    assert await reminders.send_due() == 0  # 26 hours before: not yet (lead time 24 h)
    desk.clock.advance(hours=2, minutes=1)
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
