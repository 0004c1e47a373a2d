"""One benchmark run: the baseline first, the service's scenarios server by server, the baseline last.

The baseline is measured at both ends because this VM drifts by 20-30% over minutes; the mean of
the two is what every row is divided by.
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench import ROOT, uploads, wrk
from bench.machine import cpu_split, describe, snapshot
from bench.processes import ProcessError, Processes, descendants_of, free_port, serving_loops, wait_for_http
from bench.scenarios import SCENARIOS, Feed, Scenario
from bench.service import Fixtures, Variant, bayaffairs_command, prepare_database, reset_redis, service_env
from bench.transit import Assessment, Transit, analyzed, charges_waiting, vacuumed

# Bodies minted per fed wrk run: the first baseline's req/s (nothing on the service is faster)
# times the seconds, times this margin, so no thread runs out.
FEED_MARGIN = 1.25


@dataclass(frozen=True)
class Settings:
    duration: int
    connections: int
    threads: int
    warmup: int
    workers: int
    fresh_db: bool = False
    service_env: tuple[tuple[str, str], ...] = ()  # --service-env: over every variant's settings


@dataclass(frozen=True)
class Server:
    """A started server: how scenarios reach it, its event loop, and its main process's PID."""

    fixtures: Fixtures
    loop: str
    pid: int

    def pids(self) -> set[int]:
        """The server and every descendant now: workers, and the QR renderer's process, which
        starts only when the first image is asked for."""
        return {self.pid, *descendants_of(self.pid)}


@dataclass(frozen=True)
class Row:
    scenario: Scenario
    result: wrk.WrkResult
    cpu: dict[str, float]
    command: list[str]
    loop: str
    assessment: Assessment = field(default_factory=Assessment)


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
        result.machine["code"] = code_version(processes)
        work = Measure(processes, wrk_path, settings, Path(tmp), Transit(processes))
        if on_service:
            say("preparing the bayaffairs_bench database (create if missing, migrate)")
            prepare_database(processes, fresh=settings.fresh_db)
            reset_redis()  # also checks, before any measuring, that Redis answers
            # The ride-code key must exist before a server starts: its jobs read the key set at
            # once and keep it for 30 s, so a key made later is unknown to it for that long.
            say(f"ride-code issuer key ride_codes-{work.transit.issuer.key_number} is in place")
        result.baselines.append(work.on_baseline(baseline))
        work.cap_rps = result.baselines[0].result.requests_per_second
        for variant, group in _by_variant(on_service):
            with work.service(variant) as server:
                result.rows.extend(work.scenario(s, server) for s in group)
        result.baselines.append(work.on_baseline(baseline))
    return result


def code_version(processes: Processes) -> str:
    """The commit measured, and how many files differ from it: other people edit the service
    while runs happen, so a number belongs to the code as it was, not to a commit alone."""
    try:
        head = processes.run("git", ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], timeout=10)
        changed = processes.run("git", ["git", "-C", str(ROOT), "status", "--porcelain"], timeout=10)
    except (ProcessError, OSError):
        return "unknown (no git)"
    count = len([line for line in changed.splitlines() if line.strip()])
    return f"{head.strip()} + {count} uncommitted file(s)" if count else head.strip()


def _by_variant(scenarios: list[Scenario]) -> Iterator[tuple[Variant, list[Scenario]]]:
    """Scenarios grouped by server settings (one server start each), in registry order."""
    groups: dict[str, list[Scenario]] = {}
    for s in scenarios:
        groups.setdefault(s.variant.name, []).append(s)
    for group in groups.values():
        yield group[0].variant, group


class Measure:
    """Starts servers and measures scenarios against them, all within one Processes block."""

    def __init__(
        self, processes: Processes, wrk_path: str, settings: Settings, tmp: Path, transit: Transit
    ) -> None:
        self.processes = processes
        self.wrk_path = wrk_path
        self.settings = settings
        self.tmp = tmp
        self.transit = transit
        self.cap_rps = 0.0

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
        env = service_env(Variant(variant.name, {**variant.env, **dict(self.settings.service_env)}))
        with self._server(f"service-{variant.name}", argv, env, port, "/healthz") as started:
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
            yield Server(Fixtures(port, self.transit), loop, proc.pid)
        finally:
            self.processes.stop(proc)
            say(f"stopped {name} (pid {proc.pid})")

    def scenario(self, scenario: Scenario, server: Server) -> Row:
        if scenario.driver is not None:
            return self._driven(scenario, server)
        fixtures = server.fixtures
        request = scenario.request(fixtures)
        probe = request
        if scenario.feed is not None:
            body = next(iter(scenario.feed(fixtures, self._label(scenario, "probe")).bodies(1)))
            probe = wrk.Request(request.method, request.path, request.headers, body, request.unique_header)
        _probe(scenario, probe, fixtures)
        script = self.tmp / f"{scenario.name}.lua"
        script.write_text(wrk.lua_script(request, feed=scenario.feed is not None))
        url = f"http://127.0.0.1:{fixtures.port}{request.path}"
        s = self.settings
        # Both runs' codes are minted before any load starts: minting takes seconds, and a load
        # alongside must not run alone in between, nor may the server idle inside a measurement.
        warm, _ = (
            self._wrk_command(scenario, fixtures, script, url, s.warmup, "warm") if s.warmup else ([], None)
        )
        argv, feed = self._wrk_command(scenario, fixtures, script, url, s.duration, "measure")
        if feed is not None:  # fed rows are the scans: their tables without earlier runs' dead rows
            done = vacuumed()
            if done:
                say(f"{scenario.name}: {done}")
        parts = [self._backlog(scenario)]
        with self._alongside(scenario, server) as background:
            if warm:
                wrk.run(self.processes, warm, s.warmup)
            if feed is not None:  # statistics of tables the warm-up filled (see analyzed())
                done = analyzed()
                if done:
                    say(f"{scenario.name}: {done}")
            say(f"{scenario.name}: {' '.join(argv)}")
            before = snapshot()
            measured = wrk.run(self.processes, argv, s.duration)
            cpu = cpu_split(before, snapshot(), server.pids(), background.pids)
        if feed is not None:
            parts.append(
                feed.assess(dict(measured.counters), measured.requests, measured.non_2xx, measured.errors)
            )
        if scenario.assess is not None:
            parts.append(scenario.assess(fixtures, measured))
        if background.result is not None:
            parts.append(background.assessment())
        if measured.counters.get(wrk.EXHAUSTED):
            parts.append(Assessment(problems=["the feed ran out: a wrk thread stopped early"]))
        self._said(scenario, measured)
        return Row(scenario, measured, cpu, argv, server.loop, _merge(parts))

    def _backlog(self, scenario: Scenario) -> Assessment:
        """The charges a row on the service starts with (before its warm-up): what earlier rows,
        or an earlier run on the same database, left to the charging job, which runs in one of
        the row's workers while it is measured (bench/README.md, Charging backlog)."""
        if scenario.target != "service":
            return Assessment()
        waiting = charges_waiting()
        notes = []
        if waiting:
            notes.append(
                f"started with {waiting:,} journeys waiting to be charged (left by earlier rows or runs): "
                "the charging job works through them in one of this row's workers"
            )
        return Assessment({"charges_waiting_at_start": waiting}, notes)

    def _label(self, scenario: Scenario, phase: str) -> str:
        """Names one wrk run's data (the gate id of its scans): unique, at most 64 characters."""
        return f"bench-{scenario.name[:24]}-{phase}-{uuid.uuid4().hex[:8]}"

    def _wrk_command(
        self, scenario: Scenario, fixtures: Fixtures, script: Path, url: str, seconds: int, phase: str
    ) -> tuple[list[str], Feed | None]:
        """wrk's command line for one run; for a fed scenario, fresh bodies minted for it now."""
        s = self.settings
        feed_file = None
        feed = None
        if scenario.feed is not None:
            feed = scenario.feed(fixtures, self._label(scenario, phase))
            count = max(4 * s.connections, math.ceil(self.cap_rps * seconds * FEED_MARGIN))
            say(f"{scenario.name}: minting {count:,} fresh codes for the {phase} run")
            feed_file = wrk.write_feed(
                self.tmp / f"{scenario.name}-{phase}.bodies", feed.bodies(count), s.threads
            )
        argv = wrk.command(
            self.wrk_path,
            url,
            script,
            duration=seconds,
            connections=s.connections,
            threads=s.threads,
            feed=feed_file,
        )
        return argv, feed

    @contextmanager
    def _alongside(self, scenario: Scenario, server: Server) -> Iterator[Background]:
        """The load of `scenario.alongside`, running through the warm-up and the measurement."""
        if scenario.alongside is None:
            yield Background(None)
            return
        other = next(s for s in SCENARIOS if s.name == scenario.alongside)
        request = other.request(server.fixtures)
        _probe(other, request, server.fixtures)
        script = self.tmp / f"{other.name}-alongside.lua"
        script.write_text(wrk.lua_script(request))
        seconds = self.settings.warmup + self.settings.duration + 1
        argv = wrk.command(
            self.wrk_path,
            f"http://127.0.0.1:{server.fixtures.port}{request.path}",
            script,
            duration=seconds,
            connections=scenario.alongside_connections,
            threads=1,
        )
        say(f"{scenario.name}: alongside, {' '.join(argv)}")
        proc = self.processes.start(f"wrk-{other.name}", argv)
        background = Background(other, {proc.pid})
        try:
            yield background
        finally:
            output = self.processes.finish(proc, timeout=seconds + 30)
            background.result = wrk.parse(output)
            if other.assess is not None:
                background.own = other.assess(server.fixtures, background.result)

    def _driven(self, scenario: Scenario, server: Server) -> Row:
        """A Python load (uploads.py): it probes and warms up itself; `window` is the measurement."""
        assert scenario.driver is not None
        cpu: dict[str, float] = {}

        @contextmanager
        def window() -> Iterator[None]:
            before = snapshot()
            yield
            cpu.update(cpu_split(before, snapshot(), server.pids(), {os.getpid()}))

        backlog = self._backlog(scenario)
        timing = uploads.Timing(self.settings.duration, self.settings.warmup)
        say(f"{scenario.name}: Python load, {timing.warmup} s warm-up, then {timing.duration} s measured")
        measured, assessment = scenario.driver(server.fixtures, timing, window)
        self._said(scenario, measured)
        command = [sys.executable, "-m", "bench", "--only", scenario.name]
        command += ["--duration", str(timing.duration), "--warmup", str(timing.warmup)]
        return Row(scenario, measured, cpu, command, server.loop, _merge([backlog, assessment]))

    def _said(self, scenario: Scenario, measured: wrk.WrkResult) -> None:
        say(
            f"{scenario.name}: {measured.requests_per_second:,.0f} req/s, p50 {measured.p50_ms:.2f} ms, "
            f"p99 {measured.p99_ms:.2f} ms, non-2xx {measured.non_2xx}, socket errors {measured.errors}"
            + (f", counters {dict(measured.counters)}" if measured.counters else "")
        )


@dataclass
class Background:
    """A load running alongside a measured row, and what it achieved."""

    scenario: Scenario | None
    pids: set[int] = field(default_factory=set)
    result: wrk.WrkResult | None = None
    own: Assessment | None = None

    def assessment(self) -> Assessment:
        assert self.scenario is not None and self.result is not None
        r = self.result
        name = self.scenario.name
        figures = {
            f"alongside_{name}_rps": r.requests_per_second,
            f"alongside_{name}_p99_ms": r.p99_ms,
            **{f"alongside_{k}": v for k, v in (self.own.figures if self.own else {}).items()},
        }
        notes = [f"alongside {name}: {r.requests_per_second:,.0f} req/s, p99 {r.p99_ms:.0f} ms"]
        notes += self.own.notes if self.own else []
        problems = []
        if r.errors or r.non_2xx:
            kinds = ", ".join(f"{kind} {n}" for kind, n in r.socket_errors.items() if n)
            problems.append(f"alongside {name}: socket errors ({kinds or 'none'}), non-2xx {r.non_2xx}")
        return Assessment(figures, notes, problems)


def _merge(parts: list[Assessment]) -> Assessment:
    merged = Assessment()
    for part in parts:
        merged.figures.update(part.figures)
        merged.notes.extend(part.notes)
        merged.problems.extend(part.problems)
    return merged


def _probe(scenario: Scenario, request: wrk.Request, fixtures: Fixtures) -> None:
    """One request before the load, so a broken set-up fails with its answer, not a table of 4xx
    (or of 200 denies: `probe_contains` must then be in the answer)."""
    headers = dict(request.headers)
    if request.unique_header:
        headers[request.unique_header] = f"probe-{uuid.uuid4().hex}"
    status, body = fixtures.call(request.method, request.path, request.body, headers)
    wanted = scenario.probe_contains.encode() if scenario.probe_contains else b""
    if status not in scenario.probe_ok or wanted not in body:
        expected = f"{scenario.probe_ok}" + (f" with {scenario.probe_contains}" if wanted else "")
        raise ProcessError(
            f"{scenario.name}: {request.method} {request.path} answered {status}, "
            f"expected {expected}: {body[:500]!r}"
        )
