"""Only the agency's agreed refusal (422 with a code) cancels a booking: every other failure of
a push (our key refused, 404, 409 key in use, 429, 5xx, ...) is retried, honouring Retry-After,
logged and counted, and the rider keeps the appointment (issue 11, review finding 1)."""

from __future__ import annotations

import logging
from datetime import timedelta
from email.utils import format_datetime
from typing import Any

import aiohttp
import pytest

from bayaffairs.appointments.jobs import LAST_RETRY, RETRY_AFTER_CEILING, retry_wait
from bayaffairs.errors import PartnerError
from bayaffairs.integrations.remote import retry_after_seconds
from tests.conftest import AppFactory
from tests.integrations.hengqin_remote_counters.fake import FakeAgency
from tests.integrations.hengqin_remote_counters.test_adapter import (
    EVENT,
    adapter,
    book_video_counter,
    hengqin_app,
)
from tests.support import MovableClock

# Answers that say nothing about the booking: (status, body, headers).
NOT_REFUSALS: list[tuple[int, Any, dict[str, str]]] = [
    (401, {"code": "unauthorised"}, {}),  # our key wrong or rotated away
    (403, {"code": "forbidden"}, {}),
    (404, {"code": "not_found"}, {}),
    (408, {"code": "request_timeout"}, {}),
    (409, {"code": "idempotency_key_in_use", "message": "a request with this key is running"}, {}),
    (429, {"code": "rate_limited"}, {"Retry-After": "5400"}),
    (400, {"code": "bad_request", "message": "start is required"}, {}),
    (422, {"message": "no code: not the agreed refusal"}, {}),
    (500, b"<html>oops</html>", {}),
    (503, {"code": "unavailable"}, {}),
    (201, {"no": "reference"}, {}),
]


@pytest.mark.parametrize("answer", NOT_REFUSALS, ids=[str(a[0]) for a in NOT_REFUSALS])
async def test_an_answer_other_than_the_agreed_refusal_is_not_a_refusal(
    http: aiohttp.ClientSession, answer: tuple[int, Any, dict[str, str]]
) -> None:
    async with FakeAgency() as fake:
        fake.answer_next.append(answer)
        with pytest.raises(PartnerError) as failed:
            await adapter(http, fake.url).push(EVENT)
    assert "refused" not in failed.value.details
    assert failed.value.details["status"] == str(answer[0])


async def test_retry_after_is_read_as_seconds_or_as_a_date(http: aiohttp.ClientSession) -> None:
    clock = MovableClock()
    now = clock.now()
    assert retry_after_seconds("120", now) == 120
    assert retry_after_seconds(format_datetime(now + timedelta(minutes=3), usegmt=True), now) == 180
    assert retry_after_seconds(format_datetime(now - timedelta(minutes=3), usegmt=True), now) == 0
    assert retry_after_seconds("soon", now) is None and retry_after_seconds(None, now) is None
    assert retry_after_seconds("9" * 5000, now) == 10**9
    async with FakeAgency() as fake:
        fake.answer_next.append((503, {"code": "unavailable"}, {"Retry-After": "90"}))
        with pytest.raises(PartnerError) as failed:
            await adapter(http, fake.url).push(EVENT)
    assert failed.value.details["retry_after"] == "90"


def test_the_wait_is_the_longer_of_our_backoff_and_retry_after_up_to_a_ceiling() -> None:
    assert retry_wait(1, None) == timedelta(minutes=1)
    assert retry_wait(1, "600") == timedelta(minutes=10)
    assert retry_wait(10, "30") == LAST_RETRY  # our backoff is longer
    assert retry_wait(1, str(10**9)) == RETRY_AFTER_CEILING
    assert retry_wait(1, "-5") == retry_wait(1, "x") == timedelta(minutes=1)


async def test_a_booking_survives_every_failure_that_is_not_a_refusal(
    make_api: AppFactory, clock: MovableClock, config: Any, pg: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async with FakeAgency() as fake:
        services, rider = await hengqin_app(make_api, config, fake)
        body = await book_video_counter(rider, clock, "09:00")
        outbox = services.appointments.outbox
        for answer in NOT_REFUSALS:
            fake.answer_next.append(answer)
            with caplog.at_level(logging.WARNING, logger="bayaffairs.appointments"):
                assert await outbox.drain() == 0, answer
            status, after = await rider.get(f"/v1/appointments/{body['id']}")
            assert status == 200, after
            assert (after["status"], after["cancel_reason"]) == ("booked", None), answer
            row = await pg.fetchrow("SELECT failed_at, next_attempt_at, last_error FROM agency_outbox")
            assert row["failed_at"] is None and str(answer[0]) in row["last_error"], answer
            if "Retry-After" in answer[2]:  # honoured, though our backoff is shorter
                assert row["next_attempt_at"] >= clock.now() + timedelta(seconds=5400)
            clock.set(row["next_attempt_at"])
        assert await outbox.drain() == 1  # the agency takes it in the end
        status, after = await rider.get(f"/v1/appointments/{body['id']}")
        assert status == 200, after
        assert after["status"] == "booked"
        notices = await pg.fetchval("SELECT count(*) FROM appointment_notices WHERE kind = 'agency_refused'")
        assert notices == 0
        assert outbox.stats.pushes == {
            ("hengqin_remote_counters", "retried"): len(NOT_REFUSALS),
            ("hengqin_remote_counters", "sent"): 1,
        }
    ours = [r for r in caplog.records if "our credentials refused" in r.getMessage()]
    assert [r.levelno for r in ours] == [logging.ERROR, logging.ERROR]  # the 401 and the 403
    response = await rider.client.get("/metrics")
    text = await response.text()
    assert 'bayaffairs_agency_pushes_total{agency="hengqin_remote_counters",outcome="retried"} 11.0' in text


async def test_a_push_given_up_leaves_the_booking_and_says_so(
    make_api: AppFactory, clock: MovableClock, config: Any, pg: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async with FakeAgency() as fake:
        services, rider = await hengqin_app(make_api, config, fake)
        body = await book_video_counter(rider, clock, "09:00")
        outbox = services.appointments.outbox
        fake.unavailable_for = {"booked"}
        with caplog.at_level(logging.WARNING, logger="bayaffairs.appointments"):
            for _ in range(20):
                await outbox.drain()
                clock.advance(hours=1)
        row = await pg.fetchrow("SELECT failed_at, attempts FROM agency_outbox")
        assert row["failed_at"] is not None
        status, after = await rider.get(f"/v1/appointments/{body['id']}")
        assert status == 200, after
        assert after["status"] == "booked"
        assert outbox.stats.pushes[("hengqin_remote_counters", "failed")] == 1
    gave_up = [r for r in caplog.records if "given up" in r.getMessage()]
    assert len(gave_up) == 1 and gave_up[0].levelno == logging.ERROR
