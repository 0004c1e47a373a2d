"""Every periodic job of the service, declared in one place, and the timer that runs them.

A job returns how much it did (logged when non-zero); one that raises is logged and tried again
at its next period, so a database down for a while stops no job for good.

Each job has one owner at a time across every worker of every host on the database (`Owners`:
a PostgreSQL session advisory lock per job, held on a connection of the owner's own): every
worker's timer fires, and only the owner's runs the job. An owner that dies, or loses its
connection, lets go of its jobs at once; another worker takes each at its next period. The jobs
stay safe to run twice (ON CONFLICT DO NOTHING, SKIP LOCKED, leases): ownership saves the work and
the contention, it is not what keeps the data right.

A job marked `every_worker` has no owner: every worker runs it. The offline-tap drain is one: its
cost is verifying signatures, CPU that one owner would do on one core while the others idle; it
claims with SKIP LOCKED and decides each rider in one worker at a time (an advisory lock per
rider), so workers draining at once split the backlog (bayaffairs/transit/uploads.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TypeAlias

import asyncpg

from bayaffairs.db.database import UNAVAILABLE_ERRORS, Database
from bayaffairs.db.queries import job_owners as q
from bayaffairs.wiring.services import Services


@dataclass(frozen=True)
class Job:
    name: str
    period: float  # seconds between runs (the first run waits one period too)
    work: Callable[[], Awaitable[int]]
    every_worker: bool = False  # no owner: each worker runs it (see the module docstring)


# Which jobs an app runs, from its services: `periodic` in a served app; tests choose (none
# unless a test asks, tests/conftest.py: the timers fire on the wall clock, so a job run by the
# app itself would interleave with the steps of a test at whatever moment the machine's load puts it).
Plan: TypeAlias = Callable[[Services], Iterable[Job]]


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
        Job("record offline taps", 2.0, transit.uploads.drain, every_worker=True),
        Job("charge riders for journeys", 5.0, transit.charges.charge_pending),
        Job("close settlement days", 300.0, transit.settlements.close_due),
        Job("refund riders for repriced journeys", 30.0, transit.charges.refund_due),
        Job("retry unpaid ride debts", 300.0, transit.debts.retry_due),
        Job("send appointment reminders", 30.0, appointments.reminders.send_due),
        Job("push appointments to agencies", 5.0, appointments.outbox.drain),
        Job("release expired holds", sweep, travel.bookings.sweep),
        Job("recover payments, refunds and holds", sweep, travel.recovery.sweep),
        Job("materialise departures", 1800.0, travel.departures.materialise),
        Job("purge old departures", 24 * 3600.0, travel.departures.purge),
    ]


def no_jobs(_services: Services) -> list[Job]:
    """No periodic job: what a test app runs unless its test asks for some."""
    return []


_DOWN: tuple[type[BaseException], ...] = (TimeoutError, *UNAVAILABLE_ERRORS)


class Owners:
    """The jobs this process owns: one advisory lock per job on one connection of its own."""

    def __init__(self, db: Database, log: logging.Logger) -> None:
        self.db = db
        self.log = log
        self._conn: asyncpg.Connection | None = None
        self._held: set[str] = set()
        self._turn = asyncio.Lock()
        self._down = False

    async def owns(self, job: str) -> bool:
        """Whether this process runs `job` now: it holds the job's lock, or just took it."""
        async with self._turn:
            try:
                if self._conn is None or self._conn.is_closed():
                    self._let_go()
                    self._conn = await self.db.connect_alone(f"jobs of pid {os.getpid()}")
                if job in self._held:
                    await q.still_connected(self._conn)
                    return True
                if not await q.try_own(self._conn, job):
                    return False
            except _DOWN as exc:
                if not self._down:
                    self.log.warning(
                        "job owners: database unreachable (%r); running none until it is back", exc
                    )
                self._down = True
                self._let_go()
                await self.close()
                return False
            self._down = False
            self._held.add(job)
            self.log.info("job owner: pid %d runs %r now", os.getpid(), job, extra={"fields": {"job": job}})
            return True

    def _let_go(self, lost: bool = True) -> None:
        if self._held and lost:
            self.log.warning(
                "job owners: connection lost, pid %d no longer runs %s", os.getpid(), sorted(self._held)
            )
        self._held.clear()

    async def close(self) -> None:
        """Let go of every job (closing the session releases its locks)."""
        self._let_go(lost=False)
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            try:
                await asyncio.wait_for(conn.close(), timeout=2)
            except Exception:  # noqa: BLE001 - the session ends with the socket anyway
                conn.terminate()


@contextlib.asynccontextmanager
async def running(
    jobs: Iterable[Job], log: logging.Logger, owners: Owners | None = None
) -> AsyncIterator[None]:
    """Each job every `period` seconds (where `owners` says this process owns it) until the
    block ends; then all are cancelled and awaited, and the jobs let go."""
    tasks = [asyncio.create_task(_every(job, log, owners)) for job in jobs]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if owners is not None:
            await owners.close()


async def _every(job: Job, log: logging.Logger, owners: Owners | None) -> None:
    while True:
        await asyncio.sleep(job.period)
        if owners is not None and not job.every_worker and not await owners.owns(job.name):
            continue
        try:
            done = await job.work()
            if done:
                log.info("%s: %d", job.name, done)
        except Exception:
            log.exception("background job failed: %s", job.name)
