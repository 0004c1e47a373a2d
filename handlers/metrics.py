"""Prometheus metrics: request counts and latency per route, database pool usage, and the
backlog of background money and tap work (read from PostgreSQL at each scrape, by the worker
answering it).

Under `serve --workers N` every worker writes its figures to files in one directory
(prometheus_client's multiprocess mode, switched on in each worker by `use_multiprocess`), and
/metrics, whichever worker answers it, sums them: the whole server, not one worker. Counters of
a worker that died are kept; its pool gauges are dropped (`forget_process`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from bayaffairs.transit.backlog import BacklogFigures

log = logging.getLogger(__name__)

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"


def use_multiprocess(directory: str) -> None:
    """In a worker process, before its app is built: metrics made from now on live in files
    under `directory`, shared with the other workers (prometheus_client picks its value class
    when it is imported, which happened before the workers were forked)."""
    os.environ[_DIRECTORY] = directory
    values.ValueClass = values.MultiProcessValue()


def forget_process(pid: int, directory: str) -> None:
    """A worker ended: its live gauges (database pool) no longer count."""
    multiprocess.mark_process_dead(pid, directory)


class _RetentionCollector(Collector):
    """The retention job's own figures (bayaffairs/privacy/retention.py), of this worker (under
    several workers, of the one that owns the retention job and answers the scrape)."""

    def __init__(self, stats: Any) -> None:
        self.stats = stats

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        s = self.stats
        yield CounterMetricFamily("bayaffairs_retention_runs", "Retention runs finished", value=s.runs)
        yield CounterMetricFamily(
            "bayaffairs_retention_failures", "Retention runs that failed", value=s.failures
        )
        yield GaugeMetricFamily(
            "bayaffairs_retention_last_run_timestamp_seconds",
            "When retention last finished",
            value=s.last_run_at,
        )
        yield GaugeMetricFamily(
            "bayaffairs_retention_last_run_duration_seconds",
            "How long the last run took",
            value=s.last_seconds,
        )
        records = CounterMetricFamily(
            "bayaffairs_retention_records", "Records retention dealt with", labels=["kind", "action"]
        )
        for (kind, action), count in sorted(s.records.items()):
            records.add_metric([kind, action], count)
        yield records


class _AgencyOutboxCollector(Collector):
    """Pushes to remote agencies (bayaffairs/appointments/jobs.py) by this worker, per agency
    and outcome: a climbing `retried` or any `failed` is an agency (or our key there) to look at."""

    def __init__(self, stats: Any) -> None:
        self.stats = stats

    def collect(self) -> Iterator[CounterMetricFamily]:
        pushes = CounterMetricFamily(
            "bayaffairs_agency_pushes", "Pushes to remote agencies", labels=["agency", "outcome"]
        )
        for (agency, outcome), count in sorted(self.stats.pushes.items()):
            pushes.add_metric([agency, outcome], count)
        yield pushes


class _BacklogCollector(Collector):
    """What waits for the background jobs, as read before this scrape (nothing when that read
    failed or took too long: a missing series, not a stale or made-up zero)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.figures: BacklogFigures | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        f = self.figures
        if f is None:
            return
        capped = f"counted up to {self.limit}: that figure means at least as many"
        for name, what, since, pile in (
            (
                "charges_due",
                "Journeys waiting for their charge (ride now, pay later)",
                "was priced, put back after a try the provider did not answer, or ended its hold",
                f.charges,
            ),
            ("refunds_due", "Refund lines not yet refunded", "was created", f.refunds),
            ("offline_taps_pending", "Offline taps uploaded and not yet decided", "was received", f.uploads),
        ):
            yield GaugeMetricFamily(f"bayaffairs_{name}", f"{what}; {capped}", value=pile.count)
            yield GaugeMetricFamily(
                f"bayaffairs_{name}_oldest_age_seconds",
                f"Seconds since the oldest of bayaffairs_{name} {since} (0: none)",
                value=pile.oldest_seconds,
            )


class _BacklogReads:
    """The backlog read at most once per `max_age` seconds, and by one statement at a time: a
    scrape that finds a read under way waits for it instead of taking a pool connection of its
    own (the gates' connections), so scrapes at any rate cost the database one statement at a
    time. A failed read is kept as long as a good one: a database too slow to answer is not asked
    again at every scrape. A scrape waits `timeout` seconds at most, whatever the read does."""

    def __init__(
        self,
        read: Callable[[], Awaitable[BacklogFigures]],
        timeout: float,
        max_age: float,
        now: Callable[[], float],
        collector: _BacklogCollector,
    ) -> None:
        self.read = read
        self.timeout = timeout
        self.max_age = max_age
        self.now = now
        self.collector = collector
        self.read_at: float | None = None
        self.reading: tuple[float, asyncio.Task[None]] | None = None  # (begun at, the read)

    async def fresh(self) -> None:
        """The figures of a read begun at most `max_age` seconds ago or since this scrape came,
        or none within `timeout` seconds."""
        at = self.now()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        while self.read_at is None or not 0 <= at - self.read_at < self.max_age:
            if self.reading is None:
                self.collector.figures = None  # until this read answers
                self.reading = (at, asyncio.create_task(self._read(at)))
            began, reading = self.reading
            left = deadline - loop.time()
            if left <= 0:
                return
            # Not the read's end: given up on at its timeout, a statement still waits for
            # PostgreSQL to confirm the cancel (up to [database] command_timeout if the server
            # stopped answering). A scrape waits `timeout` at most, and neither it nor a client
            # gone cancels the read the other scrapes share.
            await asyncio.wait({reading}, timeout=left)
            if began >= at:  # else a read older than this scrape: one more, if time is left
                return

    async def _read(self, at: float) -> None:
        figures: BacklogFigures | None = None
        try:
            async with asyncio.timeout(self.timeout):
                figures = await self.read()
        except Exception as exc:  # noqa: BLE001 - any failure: the gauges are left out
            log.warning("backlog gauges left out of a scrape: %r", exc)
        finally:
            self.collector.figures = figures
            self.read_at = at
            self.reading = None


class Metrics:
    """One registry per app, so several apps in one process (tests) do not collide."""

    def __init__(self) -> None:
        self.multiprocess = bool(getattr(values.ValueClass, "_multiprocess", False))
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "bayaffairs_http_requests",
            "HTTP requests answered",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "bayaffairs_http_request_duration_seconds",
            "Time to answer an HTTP request",
            ["method", "route"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        pool = {"registry": self.registry, "multiprocess_mode": "livesum"}
        self.pool_size = Gauge("bayaffairs_db_pool_size", "Open database connections", **pool)  # type: ignore[arg-type]
        self.pool_in_use = Gauge("bayaffairs_db_pool_in_use", "Database connections in use", **pool)  # type: ignore[arg-type]
        self.pool_max = Gauge("bayaffairs_db_pool_max", "Database pool maximum", **pool)  # type: ignore[arg-type]
        self._pool_stats: Callable[[], dict[str, Any]] | None = None
        self._backlog: _BacklogReads | None = None
        self._own: list[Collector] = []  # this worker's figures, not shared through the files
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def watch_pool(self, stats: Callable[[], dict[str, Any]]) -> None:
        self._pool_stats = stats
        self.refresh()

    def watch_retention(self, stats: Any) -> None:
        collector = _RetentionCollector(stats)
        self.registry.register(collector)
        self._own.append(collector)

    def watch_agency_outbox(self, stats: Any) -> None:
        collector = _AgencyOutboxCollector(stats)
        self.registry.register(collector)
        self._own.append(collector)

    def watch_backlog(
        self,
        read: Callable[[], Awaitable[BacklogFigures]],
        *,
        limit: int,
        timeout: float,
        max_age: float,
        now: Callable[[], float],
    ) -> None:
        """`read` (counting up to `limit`) runs for `timeout` seconds at most, at a scrape that
        finds the last read older than `max_age` seconds (`now`: seconds, the app's clock)."""
        collector = _BacklogCollector(limit)
        self.registry.register(collector)
        self._own.append(collector)
        self._backlog = _BacklogReads(read, timeout, max_age, now, collector)

    async def scrape(self) -> bytes:
        """The metrics with the backlog read first: the backlog now, or none if the database
        does not answer in time (the scrape still answers, with everything else)."""
        if self._backlog is not None:
            await self._backlog.fresh()
        return self.render()

    def refresh(self) -> None:
        """Read the pool's figures into the gauges (at each scrape; in every worker every
        second when several share the metrics)."""
        if self._pool_stats is None:
            return
        stats = self._pool_stats()
        size, idle, maximum = stats.get("size", 0), stats.get("idle", 0), stats.get("max", 0)
        self.pool_size.set(size)
        self.pool_in_use.set(size - idle)
        self.pool_max.set(maximum)

    @contextlib.asynccontextmanager
    async def refreshing(self) -> AsyncIterator[None]:
        """While serving: with workers sharing the metrics, the pool gauges of each stay fresh."""

        async def every_second() -> None:
            while True:
                await asyncio.sleep(1.0)
                self.refresh()

        task = asyncio.create_task(every_second()) if self.multiprocess else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        children = self._children.get((method, route, status))
        if children is None:  # labels() costs more than the update: look each series up once
            children = self._children[method, route, status] = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route),
            )
        children[0].inc()
        children[1].observe(seconds)

    def render(self) -> bytes:
        self.refresh()
        if not self.multiprocess:
            return generate_latest(self.registry)
        everyone = CollectorRegistry()
        multiprocess.MultiProcessCollector(everyone)
        for collector in self._own:
            everyone.register(collector)
        return generate_latest(everyone)
