"""The demo notifier: logs notifications and keeps the latest in memory."""

from __future__ import annotations

import logging

import pytest

from bayaffairs.adapters.protocols import Notification
from bayaffairs.i18n import Text
from tests.integrations.support import build_adapter


def note(recipient: str = "usr_1", dedupe_key: str | None = None) -> Notification:
    return Notification(
        recipient=recipient,
        channel="app",
        subject=Text("Appointment booked", "預約已確認", "预约已确认"),
        body=Text("See you at 10:00."),
        language="zh-Hant",
        dedupe_key=dedupe_key,
    )


async def test_send_returns_a_message_id_and_keeps_the_notification() -> None:
    notifier = build_adapter("demo_notifier")
    message_id = await notifier.send(note())
    assert [(m.id, m.notification) for m in notifier.sent] == [(message_id, note())]


async def test_each_notification_gets_its_own_id() -> None:
    notifier = build_adapter("demo_notifier")
    assert await notifier.send(note()) != await notifier.send(note())


async def test_send_logs_at_info_on_the_notifier_logger(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bayaffairs.notifier")
    message_id = await build_adapter("demo_notifier").send(note("usr_42"))
    (record,) = [r for r in caplog.records if r.name == "bayaffairs.notifier"]
    assert record.levelno == logging.INFO
    assert message_id in record.getMessage() and "usr_42" in record.getMessage()
    assert "預約已確認" in record.getMessage()


async def test_only_the_latest_thousand_are_kept() -> None:
    notifier = build_adapter("demo_notifier")
    for i in range(1001):
        await notifier.send(note(f"usr_{i}"))
    assert len(notifier.sent) == 1000
    assert notifier.sent[0].notification.recipient == "usr_1"


async def test_repeated_dedupe_key_returns_the_first_id_and_sends_once() -> None:
    notifier = build_adapter("demo_notifier")
    first = await notifier.send(note(dedupe_key="apt_1:booked"))
    again = await notifier.send(note(dedupe_key="apt_1:booked"))
    other = await notifier.send(note(dedupe_key="apt_2:booked"))
    assert first == again != other
    assert len(notifier.sent) == 2
