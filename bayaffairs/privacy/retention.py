"""Retention that runs by itself: each kind of record is kept for its time in
`[privacy.retention]`, then anonymised, unlinked or deleted by a periodic job (and by
`bayaffairs retention`, which `--dry-run` only counts).

The table (README, "Personal data"): documents until the rider deletes them or some days after
they expire, then deleted; travel bookings and appointments some days after travel or the
visit, then anonymised (names, documents, flights gone; the rider unlinked); journeys some days
after they ended, then unlinked from the rider and the ride account (debts stay until paid);
payments, refunds, the bookings they belong to and journeys seven years, then deleted;
data-transfer records three years; access-log records and finished account deletions their
own days.

A settlement adds up journeys' fares per operator and day, so until its books may go (7 years)
no journey is deleted: unlinking keeps every fare, station and time, and a settlement of any day
still in its period is the same file before and after retention.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from bayaffairs.clock import Clock
from bayaffairs.config.settings import RetentionSettings
from bayaffairs.db.queries import retention as q
from bayaffairs.db.queries.appointments import NextChange
from bayaffairs.storage import Database

_BAY_AREA = timezone(timedelta(hours=8))  # document expiry dates are Bay Area dates

# What retention does to each kind, and what the table says it keeps, for the report.
ACTIONS = {
    "documents": ("delete", "documents_after_expiry", "days after the document expires"),
    "bookings": ("anonymise", "bookings_after_travel", "days after travel"),
    "appointments": ("anonymise", "appointments_after_visit", "days after the appointment"),
    "journeys": ("unlink", "journeys", "days after the journey (debts: until paid)"),
    "payments": ("delete", "payments_and_settlements", "days after travel (books of account)"),
    "settled_journeys": ("delete", "payments_and_settlements", "days after the journey (settlements)"),
    "data_transfers": ("delete", "data_transfers", "days (retain_until on each record)"),
    "access_log": ("delete", "access_log", "days after the read"),
    "deletion_records": ("delete", "deletion_records", "days after the deletion finished"),
}


@dataclass(frozen=True)
class KindReport:
    kind: str
    action: str  # delete, anonymise or unlink
    keep_days: int
    keep: str  # what the days count from
    count: int  # due (dry run) or done


@dataclass(frozen=True)
class RetentionReport:
    at: datetime
    dry_run: bool
    kinds: tuple[KindReport, ...]

    @property
    def total(self) -> int:
        return sum(k.count for k in self.kinds)


@dataclass
class RetentionStats:
    """For /metrics: runs, the last one's time and duration, records dealt with per kind."""

    runs: int = 0
    failures: int = 0
    last_run_at: float = 0.0  # Unix time
    last_seconds: float = 0.0
    records: dict[tuple[str, str], int] = field(default_factory=dict)  # (kind, action) -> total


class Retention:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        settings: RetentionSettings,
        next_change: NextChange | None = None,
    ) -> None:
        """`next_change`: the appointments' `ChangeNumbers.next`, so that this worker's counter
        pulls see an anonymised name gone at once (others hear the change number's NOTIFY)."""
        self.db = db
        self.clock = clock
        self.settings = settings
        self.next_change = next_change
        self.stats = RetentionStats()

    def cutoffs(self, now: datetime) -> q.Cutoffs:
        s = self.settings
        return q.Cutoffs(
            documents_expired_before=now.astimezone(_BAY_AREA).date()
            - timedelta(days=s.documents_after_expiry),
            travelled_before=now - timedelta(days=s.bookings_after_travel),
            visited_before=now - timedelta(days=s.appointments_after_visit),
            journeys_ended_before=now - timedelta(days=s.journeys),
            books_before=now - timedelta(days=s.payments_and_settlements),
            now=now,
            accessed_before=now - timedelta(days=s.access_log),
            deletions_finished_before=now - timedelta(days=s.deletion_records),
        )

    async def run(self, *, dry_run: bool = False) -> RetentionReport:
        """Deal with every record past its time, kind by kind in batches of `batch` (a
        transaction each); with `dry_run`, only count what is due and change nothing."""
        started = time.monotonic()
        now = self.clock.now()
        cutoffs = self.cutoffs(now)
        kinds = []
        try:
            if not dry_run:
                async with self.db.acquire() as conn:
                    await q.ensure_anonymous(conn, now)
            for kind in q.KINDS:
                cutoff = q.cutoff_of(kind, cutoffs)
                if dry_run:
                    async with self.db.acquire() as conn:
                        count = await q.count_due(conn, kind, cutoff)
                else:
                    count = await self._apply(kind, cutoff)
                action, key, keep = ACTIONS[kind]
                kinds.append(KindReport(kind, action, getattr(self.settings, key), keep, count))
        except Exception:
            self.stats.failures += 1
            raise
        report = RetentionReport(now, dry_run, tuple(kinds))
        if not dry_run:
            self.stats.runs += 1
            self.stats.last_run_at = now.timestamp()
            self.stats.last_seconds = time.monotonic() - started
            for k in report.kinds:
                series = (k.kind, k.action)
                self.stats.records[series] = self.stats.records.get(series, 0) + k.count
        return report

    async def _apply(self, kind: str, cutoff: date | datetime) -> int:
        done = 0
        while True:
            async with self.db.transaction() as conn:
                n = await q.apply_batch(conn, kind, cutoff, self.settings.batch, self.next_change)
            done += n
            if n < self.settings.batch:
                return done

    async def run_job(self) -> int:
        """The periodic job: how many records it dealt with."""
        return (await self.run()).total
