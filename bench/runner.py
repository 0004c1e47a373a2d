"""One benchmark run: the baseline first, the service's scenarios server by server, the baseline last.

The baseline is measured at both ends because this VM drifts by 20-30% over minutes; the mean of
the two is what every row is divided by.
"""

from __future__ import annotations

import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench import ROOT, wrk
from bench.machine import cpu_split, describe, snapshot
from bench.processes import ProcessError, Processes, descendants_of, free_port, serving_loops, wait_for_http
from bench.scenarios import Scenario
from bench.service import Fixtures, Variant, bayaffairs_command, prepare_database, reset_redis, service_env


@dataclass(frozen=True)
class Settings:
    duration: int
    connections: int
    threads: int
    warmup: int
    workers: int
    fresh_db: bool = False


@dataclass(frozen=True)
class Server:
    """A started server: how scenarios reach it, its event loop, and its processes' PIDs."""

    fixtures: Fixtures
    loop: str
    pids: set[int]


@dataclass(frozen=True)
class Row:
    scenario: Scenario
    result: wrk.WrkResult
    cpu: dict[str, float]
    command: list[str]
    loop: str


@dataclass
class Run:
    settings: Settings
    started_at: datetime
    machine: dict[str, str]
    baselines: list[Row] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)

    @property
    def baseline_rps(self) -> float | None:
        if not self.baselines:
            return None
        return sum(r.result.requests_per_second for r in self.baselines) / len(self.baselines)

    def loops(self) -> dict[str, str]:
        sides: dict[str, set[str]] = {"baseline": set(), "service": set()}
        for row in [*self.baselines, *self.rows]:
            sides[row.scenario.target].add(row.loop)
        return {side: "+".join(sorted(found)) for side, found in sides.items() if found}


def say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def run(settings: Settings, scenarios: list[Scenario]) -> Run:
    wrk_path = wrk.ensure_wrk()
    result = Run(settings, datetime.now(UTC), describe())
    baseline = next(s for s in scenarios if s.target == "baseline")
    on_service = [s for s in scenarios if s.target == "service"]
    with (
        tempfile.TemporaryDirectory(prefix="bayaffairs-bench-") as tmp,
        Processes(Path(tmp)) as processes,
    ):
        work = Measure(processes, wrk_path, settings, Path(tmp))
        if on_service:
            say("preparing the bayaffairs_bench database (create if missing, migrate)")
            prepare_database(processes, fresh=settings.fresh_db)
            reset_redis()  # also checks, before any measuring, that Redis answers
        result.baselines.append(work.on_baseline(baseline))
        for variant, group in _by_variant(on_service):
            with work.service(variant) as server:
                result.rows.extend(work.scenario(s, server) for s in group)
        result.baselines.append(work.on_baseline(baseline))
    return result


def _by_variant(scenarios: list[Scenario]) -> Iterator[tuple[Variant, list[Scenario]]]:
    """Scenarios grouped by server settings (one server start each), in registry order."""
    groups: dict[str, list[Scenario]] = {}
    for s in scenarios:
        groups.setdefault(s.variant.name, []).append(s)
    for group in groups.values():
        yield group[0].variant, group


class Measure:
    """Starts servers and measures scenarios against them, all within one Processes block."""

    def __init__(self, processes: Processes, wrk_path: str, settings: Settings, tmp: Path) -> None:
        self.processes = processes
        self.wrk_path = wrk_path
        self.settings = settings
        self.tmp = tmp

    def on_baseline(self, scenario: Scenario) -> Row:
        port = free_port()
        argv = [sys.executable, "-m", "bench.baseline_app", "--port", str(port)]
        argv += ["--workers", str(self.settings.workers)]
        with self._server("baseline", argv, None, port, "/json") as server:
            return self.scenario(scenario, server)

    @contextmanager
    def service(self, variant: Variant) -> Iterator[Server]:
        reset_redis()
        port = free_port()
        argv = [*bayaffairs_command(), "serve", "--host", "127.0.0.1", "--port", str(port)]
        argv += ["--workers", str(self.settings.workers)]
        with self._server(f"service-{variant.name}", argv, service_env(variant), port, "/healthz") as started:
            yield started

    @contextmanager
    def _server(
        self, name: str, argv: list[str], env: dict[str, str] | None, port: int, health: str
    ) -> Iterator[Server]:
        say(f"starting {name} on 127.0.0.1:{port}")
        proc = self.processes.start(name, argv, env=env, cwd=ROOT)
        try:
            wait_for_http(proc, self.processes.log_of(proc), port, health)
            if self.settings.workers > 1:
                time.sleep(1.0)  # the other workers finish starting while the first one answers
            loop = serving_loops(proc.pid)
            say(f"{name} is up (pid {proc.pid}, event loop {loop})")
            yield Server(Fixtures(port), loop, {proc.pid, *descendants_of(proc.pid)})
        finally:
            self.processes.stop(proc)
            say(f"stopped {name} (pid {proc.pid})")

    def scenario(self, scenario: Scenario, server: Server) -> Row:
        fixtures = server.fixtures
        request = scenario.request(fixtures)
        _probe(scenario, request, fixtures)
        script = self.tmp / f"{scenario.name}.lua"
        script.write_text(wrk.lua_script(request))
        url = f"http://127.0.0.1:{fixtures.port}{request.path}"
        s = self.settings
        if s.warmup > 0:
            warm = wrk.command(
                self.wrk_path, url, script, duration=s.warmup, connections=s.connections, threads=s.threads
            )
            wrk.run(self.processes, warm, s.warmup)
        argv = wrk.command(
            self.wrk_path, url, script, duration=s.duration, connections=s.connections, threads=s.threads
        )
        say(f"{scenario.name}: {' '.join(argv)}")
        before = snapshot()
        measured = wrk.run(self.processes, argv, s.duration)
        cpu = cpu_split(before, snapshot(), server.pids)
        say(
            f"{scenario.name}: {measured.requests_per_second:,.0f} req/s, p50 {measured.p50_ms:.2f} ms, "
            f"p99 {measured.p99_ms:.2f} ms, non-2xx {measured.non_2xx}, socket errors {measured.errors}"
        )
        return Row(scenario, measured, cpu, argv, server.loop)


def _probe(scenario: Scenario, request: wrk.Request, fixtures: Fixtures) -> None:
    """One request before the load, so a broken set-up fails with its answer, not a table of 4xx."""
    headers = dict(request.headers)
    if request.unique_header:
        headers[request.unique_header] = f"probe-{uuid.uuid4().hex}"
    status, body = fixtures.call(request.method, request.path, request.body, headers)
    if status not in scenario.probe_ok:
        raise ProcessError(
            f"{scenario.name}: {request.method} {request.path} answered {status}, "
            f"expected {scenario.probe_ok}: {body[:500]!r}"
        )
