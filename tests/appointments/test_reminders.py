"""Reminders go out once, at the configured lead time, whatever the number of workers, through
an outbox of notices with the notifier's idempotency key, and never at or after the start; no
notice goes out late or about an appointment that has changed since it was written."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any

import pytest

from bayaffairs.appointments.jobs import Reminders
from bayaffairs.appointments.notices import LEASE, MAX_ATTEMPTS
from bayaffairs.db.queries import appointment_notices as nq
from bayaffairs.db.queries import appointments as q
from tests.appointments.conftest import DAY_AFTER, TOMORROW, Desk, SlowRelay, at, due
from tests.integrations.webhook_notifier.fake_relay import FakeRelay

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


async def test_a_notice_claimed_in_time_is_not_sent_after_a_slow_send_made_it_late(
    pushed: Desk, relay: SlowRelay, pg: Any
) -> None:
    first = await pushed.booked(at(TOMORROW, "14:00"))
    late = await pushed.booked(at(TOMORROW, "14:30"), rider=await pushed.another_rider("second"))
    control = await pushed.booked(at(TOMORROW, "15:30"), rider=await pushed.another_rider("third"))
    # The job was down: at 13:50 the three reminders are written and claimed in one batch, each
    # still before its start.
    pushed.clock.set(datetime.fromisoformat(at(TOMORROW, "13:50")))

    async def slow() -> None:  # each send takes 45 minutes: the first ends at 14:35
        pushed.clock.set(pushed.clock.now() + timedelta(minutes=45))

    relay.after_send = slow
    assert await pushed.services.appointments.reminders.send_due() == 2
    # The 14:30 one was claimed in time but is due to go out at 14:35: it is dropped, unsent.
    # Negative control: the 15:30 one, claimed in the same batch, is still in time and goes out.
    assert [d.key for d in relay.deliveries] == [f"reminder:{first['id']}", f"reminder:{control['id']}"]
    row = await pg.fetchrow(
        "SELECT sent_at, dropped_at, last_error FROM appointment_notices WHERE appointment_id = $1",
        late["id"],
    )
    assert row["sent_at"] is None and row["dropped_at"] is not None and row["last_error"] == "too late"
    relay.after_send = None
    pushed.clock.set(datetime.fromisoformat(at(TOMORROW, "14:00")) - timedelta(minutes=20))
    assert await pushed.services.appointments.notices.drain() == 0  # dropped for good


async def close_the_morning(desk: Desk) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Three riders booked tomorrow morning, then the whole centre closed over them."""
    booked = [
        await desk.booked(at(TOMORROW, "10:00")),
        await desk.booked(at(TOMORROW, "10:30"), rider=await desk.another_rider("second")),
        await desk.booked(at(TOMORROW, "11:00"), rider=await desk.another_rider("third")),
    ]
    counter = await desk.counter()
    status, closed = await counter.post(
        "/v1/counter/blocks",
        {"start": at(TOMORROW, "09:00"), "end": at(TOMORROW, "12:00"), "reason": "typhoon signal 8"},
    )
    assert status == 201, closed
    assert [a["appointment_id"] for a in closed["affected"]] == [b["id"] for b in booked]
    return closed, booked


async def test_a_desk_closed_notice_is_not_retried_once_its_appointment_was_rescheduled_or_cancelled(
    pushed: Desk, relay: SlowRelay, pg: Any
) -> None:
    closed, (moved, cancelled, staying) = await close_the_morning(pushed)
    notices = pushed.services.appointments.notices
    relay.fail_next("send", 503, times=3)
    assert await notices.drain() == 0 and relay.deliveries == []  # all three to be retried
    status, _ = await pushed.rider.post(
        f"/v1/appointments/{moved['id']}/reschedule", {"start": at(TOMORROW, "14:30")}
    )
    assert status == 201
    status, _ = await (await pushed.another_rider("second", consent=None)).post(
        f"/v1/appointments/{cancelled['id']}/cancellation"
    )
    assert status == 200
    pushed.clock.set(pushed.clock.now() + timedelta(minutes=5))
    # Negative control: the appointment still booked in the closed time is told.
    assert await notices.drain() == 1
    assert [d.key for d in relay.deliveries] == [f"desk_closed:{closed['id']}:{staying['id']}"]
    rows = {
        r["appointment_id"]: r
        for r in await pg.fetch(
            "SELECT appointment_id, sent_at, dropped_at, last_error FROM appointment_notices"
        )
    }
    for gone in (moved["id"], cancelled["id"]):
        assert rows[gone]["sent_at"] is None and rows[gone]["dropped_at"] is not None
        assert rows[gone]["last_error"] == "appointment no longer booked"


async def test_a_desk_closed_notice_whose_appointment_changes_during_the_batch_is_not_sent(
    pushed: Desk, relay: SlowRelay, pg: Any
) -> None:
    closed, (first, cancelled, staying) = await close_the_morning(pushed)
    rider = await pushed.another_rider("second", consent=None)

    async def cancel_during_the_first_send() -> None:
        relay.after_send = None
        status, _ = await rider.post(f"/v1/appointments/{cancelled['id']}/cancellation")
        assert status == 200

    relay.after_send = cancel_during_the_first_send
    assert await pushed.services.appointments.notices.drain() == 2
    assert [d.key for d in relay.deliveries] == [
        f"desk_closed:{closed['id']}:{first['id']}",
        f"desk_closed:{closed['id']}:{staying['id']}",
    ]
    row = await pg.fetchrow(
        "SELECT sent_at, dropped_at, last_error FROM appointment_notices WHERE appointment_id = $1",
        cancelled["id"],
    )
    assert row["sent_at"] is None and row["last_error"] == "appointment no longer booked"


async def test_a_desk_closed_notice_is_dropped_once_its_block_was_removed(
    pushed: Desk, relay: SlowRelay, pg: Any
) -> None:
    """The block is removed (DELETE /v1/counter/blocks/{id}) before its notices go out: the time
    is open again, so telling riders it is closed would be false. Negative control: another
    block's notice, whose block stands, is sent in the same drain."""
    closed, booked = await close_the_morning(pushed)
    afternoon = await pushed.booked(at(TOMORROW, "14:00"), rider=await pushed.another_rider("fourth"))
    counter = await pushed.counter()
    status, standing = await counter.post(
        "/v1/counter/blocks",
        {"start": at(TOMORROW, "13:30"), "end": at(TOMORROW, "15:00"), "reason": "power cut"},
    )
    assert status == 201 and [a["appointment_id"] for a in standing["affected"]] == [afternoon["id"]]
    status, _ = await counter.delete(f"/v1/counter/blocks/{closed['id']}")
    assert status == 200
    assert await pushed.services.appointments.notices.drain() == 1
    assert [d.key for d in relay.deliveries] == [f"desk_closed:{standing['id']}:{afternoon['id']}"]
    rows = await pg.fetch(
        "SELECT sent_at, dropped_at, last_error FROM appointment_notices WHERE appointment_id = ANY($1)",
        [b["id"] for b in booked],
    )
    assert len(rows) == 3
    for row in rows:
        assert row["sent_at"] is None and row["dropped_at"] is not None
        assert row["last_error"] == "block removed"


async def test_an_agency_refusal_notice_is_given_up_not_retried_for_ever(
    pushed: Desk, relay: FakeRelay, pg: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """It had no cutoff and no cap (issue 11 review finding 6): now it ends at the appointment's
    time, and after MAX_ATTEMPTS failed sends it is dropped with the reason and logged."""
    start = at(DAY_AFTER, "14:00")  # two days on: the cap, not the cutoff, ends the retries
    body = await pushed.booked(start)
    status, _ = await pushed.rider.post(f"/v1/appointments/{body['id']}/cancellation")
    assert status == 200
    outbox = pushed.services.appointments.outbox
    async with outbox.db.transaction() as conn:
        cancelled = await q.get(conn, body["id"])
        assert cancelled is not None
        await outbox._tell_rider(conn, cancelled, "duplicate applicant", pushed.clock.now())
    not_after = await pg.fetchval("SELECT not_after FROM appointment_notices WHERE kind = 'agency_refused'")
    assert not_after == datetime.fromisoformat(start)
    relay.fail_next("send", 503, times=10_000)
    notices = pushed.services.appointments.notices
    with caplog.at_level(logging.ERROR, logger="bayaffairs.appointments"):
        for _ in range(MAX_ATTEMPTS + 5):
            await notices.drain()
            pushed.clock.advance(minutes=30)
    row = await pg.fetchrow("SELECT attempts, dropped_at, last_error FROM appointment_notices")
    assert row["attempts"] == MAX_ATTEMPTS and row["dropped_at"] is not None
    assert row["dropped_at"] < datetime.fromisoformat(start)
    assert row["last_error"].startswith(f"gave up after {MAX_ATTEMPTS} attempts: "), row["last_error"]
    assert relay.calls["send"] == MAX_ATTEMPTS and relay.deliveries == []
    assert [r.getMessage() for r in caplog.records if "dropped unsent" in r.getMessage()] == [
        f"notice agency_refused:{body['id']} dropped unsent: {row['last_error']}"
    ]
