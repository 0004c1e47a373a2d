"""The webhook notifier against a local fake relay that delivers each key once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bayaffairs.adapters.protocols import Notification
from bayaffairs.errors import PartnerError
from bayaffairs.i18n import Text
from tests.integrations.support import (
    PATIENT_TIMEOUT,
    SHORT_TIMEOUT,
    build_adapter,
    gives_up_in_time,
    unused_url,
)
from tests.integrations.webhook_notifier.fake_relay import FakeRelay

SUBJECT = Text("Appointment reminder", "預約提醒", "预约提醒")
BODY = Text("Tomorrow 10:00, reference A-123.", "明天 10:00,預約編號 A-123。", "明天 10:00,预约编号 A-123。")


@pytest.fixture
async def relay() -> AsyncIterator[FakeRelay]:
    async with FakeRelay() as fake:
        yield fake


def make(http: aiohttp.ClientSession, relay: FakeRelay, **overrides: Any) -> Any:
    settings = {"url": relay.url + "notifications", "token": relay.token, "timeout_seconds": PATIENT_TIMEOUT}
    return build_adapter("webhook_notifier", settings | overrides, http=http, instance="push")


def reminder(language: str = "en", dedupe_key: str | None = "reminder:apt_1") -> Notification:
    return Notification("usr_1", "app", SUBJECT, BODY, language, dedupe_key)


async def test_a_notification_is_delivered_and_answers_the_relays_message_id(
    http: aiohttp.ClientSession, relay: FakeRelay
) -> None:
    message_id = await make(http, relay).send(reminder())
    (delivery,) = relay.deliveries
    assert message_id == delivery.message_id
    assert delivery.body == {
        "id": "reminder:apt_1",
        "recipient": "usr_1",
        "channel": "app",
        "language": "en",
        "subject": "Appointment reminder",
        "body": "Tomorrow 10:00, reference A-123.",
    }


@pytest.mark.parametrize(
    ("language", "subject"),
    [("zh-Hant", "預約提醒"), ("zh-Hans", "预约提醒"), ("en", "Appointment reminder")],
)
async def test_the_text_goes_in_the_notifications_language(
    http: aiohttp.ClientSession, relay: FakeRelay, language: str, subject: str
) -> None:
    await make(http, relay).send(reminder(language))
    (delivery,) = relay.deliveries
    assert (delivery.body["language"], delivery.body["subject"]) == (language, subject)
    assert delivery.body["body"] == BODY.get(language)


async def test_the_same_dedupe_key_twice_is_delivered_once(
    http: aiohttp.ClientSession, relay: FakeRelay
) -> None:
    notifier = make(http, relay)
    first, again = await notifier.send(reminder()), await notifier.send(reminder())
    assert first == again
    assert (relay.calls["send"], len(relay.deliveries)) == (2, 1)


async def test_notifications_without_a_dedupe_key_are_each_delivered(
    http: aiohttp.ClientSession, relay: FakeRelay
) -> None:
    notifier = make(http, relay)
    await notifier.send(reminder(dedupe_key=None))
    await notifier.send(reminder(dedupe_key=None))
    assert len(relay.deliveries) == 2


async def test_a_send_answered_too_late_is_retried_without_a_second_message(
    http: aiohttp.ClientSession, relay: FakeRelay
) -> None:
    notifier = make(http, relay, timeout_seconds=SHORT_TIMEOUT)
    relay.hold("send")
    with pytest.raises(PartnerError) as caught:
        await notifier.send(reminder())
    assert caught.value.details == {"partner": "push"}
    assert relay.held("send") == 1  # still unanswered: we gave up on our own timeout
    relay.release("send", hold_more=False)
    message_id = await notifier.send(reminder())
    assert [d.message_id for d in relay.deliveries] == [message_id]


async def test_a_relay_that_never_answers_does_not_hang_the_caller(
    http: aiohttp.ClientSession, relay: FakeRelay
) -> None:
    relay.stall_next("send")
    async with gives_up_in_time():
        with pytest.raises(PartnerError):
            await make(http, relay, timeout_seconds=SHORT_TIMEOUT).send(reminder())
    assert relay.in_flight["send"] == 1  # still stalled: we gave up on our own timeout
    assert relay.deliveries == []


@pytest.mark.parametrize("status", [500, 503, 400, 404])
async def test_a_failing_relay_is_a_partner_error(
    http: aiohttp.ClientSession, relay: FakeRelay, status: int
) -> None:
    relay.fail_next("send", status)
    with pytest.raises(PartnerError):
        await make(http, relay).send(reminder())
    assert relay.deliveries == []


async def test_a_wrong_token_is_a_partner_error(http: aiohttp.ClientSession, relay: FakeRelay) -> None:
    with pytest.raises(PartnerError):
        await make(http, relay, token="wrong").send(reminder())
    assert relay.deliveries == []


async def test_an_answer_without_a_message_id_is_a_partner_error(
    http: aiohttp.ClientSession, relay: FakeRelay
) -> None:
    relay.garble_next("send")
    with pytest.raises(PartnerError):
        await make(http, relay).send(reminder())


async def test_an_unreachable_relay_is_a_partner_error(http: aiohttp.ClientSession) -> None:
    settings = {"url": unused_url() + "/notifications", "token": "t", "timeout_seconds": PATIENT_TIMEOUT}
    with pytest.raises(PartnerError):
        await build_adapter("webhook_notifier", settings, http=http).send(reminder())
