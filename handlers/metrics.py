"""Prometheus metrics: request counts and latency per route, database pool usage."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _PoolCollector(Collector):
    def __init__(self, stats: Callable[[], dict[str, Any]]) -> None:
        self.stats = stats

    def collect(self) -> Iterator[GaugeMetricFamily]:
        stats = self.stats()
        size, idle, maximum = stats.get("size", 0), stats.get("idle", 0), stats.get("max", 0)
        yield GaugeMetricFamily("bayaffairs_db_pool_size", "Open database connections", value=size)
        yield GaugeMetricFamily("bayaffairs_db_pool_in_use", "Database connections in use", value=size - idle)
        yield GaugeMetricFamily("bayaffairs_db_pool_max", "Database pool maximum", value=maximum)


class _RetentionCollector(Collector):
    """The retention job's own figures (bayaffairs/privacy/retention.py), per worker."""

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


class Metrics:
    """One registry per app, so several apps in one process (tests) do not collide."""

    def __init__(self) -> None:
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
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def watch_pool(self, stats: Callable[[], dict[str, Any]]) -> None:
        self.registry.register(_PoolCollector(stats))

    def watch_retention(self, stats: Any) -> None:
        self.registry.register(_RetentionCollector(stats))

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
        return generate_latest(self.registry)
