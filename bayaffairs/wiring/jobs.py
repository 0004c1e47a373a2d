"""Every periodic job of the service, declared in one place, and the timer that runs them.

A job returns how much it did (logged when non-zero); one that raises is logged and tried again
at its next period, so a database down for a while stops no job for good. Every job is safe to
run in several workers at once (ON CONFLICT DO NOTHING, SKIP LOCKED, leases), so each worker of
`bayaffairs serve` runs them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass

from bayaffairs.wiring.services import Services


@dataclass(frozen=True)
class Job:
    name: str
    period: float  # seconds between runs (the first run waits one period too)
    work: Callable[[], Awaitable[int]]


def periodic(services: Services) -> list[Job]:
    transit, travel, appointments = services.transit, services.travel, services.appointments
    sweep = travel.settings.sweep_seconds
    return [
        Job("purge idempotency keys", 600.0, services.idempotency.purge_expired),
        Job("purge expired credentials", 3600.0, services.credentials.purge_expired),
        # Data-transfer records (3 years) are one kind of the retention table.
        Job(
            "apply retention",
            services.privacy.retention.settings.run_seconds,
            services.privacy.retention.run_job,
        ),
        Job("build data exports", 1.0, services.privacy.exports.build_pending),
        Job("finish account deletions", 30.0, services.privacy.deletion.resume_due),
        Job("close journeys without tap-out", 60.0, transit.journeys.close_overdue),
        Job("record offline taps", 2.0, transit.uploads.drain),
        Job("charge riders for journeys", 5.0, transit.charges.charge_pending),
        Job("close settlement days", 300.0, transit.settlements.close_due),
        Job("send appointment reminders", 30.0, appointments.reminders.send_due),
        Job("push appointments to agencies", 5.0, appointments.outbox.drain),
        Job("release expired holds", sweep, travel.bookings.sweep),
        Job("recover payments, refunds and holds", sweep, travel.recovery.sweep),
        Job("materialise departures", 1800.0, travel.departures.materialise),
        Job("purge old departures", 24 * 3600.0, travel.departures.purge),
    ]


@contextlib.asynccontextmanager
async def running(jobs: Iterable[Job], log: logging.Logger) -> AsyncIterator[None]:
    """Each job every `period` seconds until the block ends; then all are cancelled and awaited."""
    tasks = [asyncio.create_task(_every(job, log)) for job in jobs]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _every(job: Job, log: logging.Logger) -> None:
    while True:
        await asyncio.sleep(job.period)
        try:
            done = await job.work()
            if done:
                log.info("%s: %d", job.name, done)
        except Exception:
            log.exception("background job failed: %s", job.name)
