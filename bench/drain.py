"""The offline-tap drain in process: `TapUploads.drain` on the bench database, no HTTP.

Stores `--taps` fresh uploaded taps (issuer codes of riders new in each round, two taps each,
scan times over the 4 minutes before issue, as `taps_batch` sends them) straight into
tap_uploads, then times the service's own drain over them (settle time 0) in `--workers`
processes at once, as `serve --workers N` runs the job in every worker, against raw ECDSA
verifies per second measured in the same run. On a server with autovacuum off it runs VACUUM
ANALYZE on tap_uploads and journeys between storing and draining (bench/README.md).
Each worker runs as a served one does (cli/serve.py): on uvloop when installed, its heap frozen
once started (without that, one full collection of the ~170,000 objects startup made cost each
worker 150-200 ms of a 20,000-tap round, ~19 µs a tap, that `serve` does not pay).
It reports the CPU time per tap of the drain's processes and of their PostgreSQL backends
(from /proc: the bench database's backends), so a change that moves work between them shows.
`--profile PATH` writes a cProfile of one worker's (last) drain (`python -m pstats PATH`),
`--statements` prints each worker's wall time per SQL statement, `--explain` logs the plans of
statements over 50 ms to PostgreSQL's log (auto_explain, as a superuser).

    .venv/bin/python -m bench.drain --taps 20000 --workers 2 --repeat 3
    .venv/bin/python -m bench.drain --taps 10000 --workers 1 --profile /tmp/drain.prof
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import multiprocessing
import multiprocessing.queues
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import cast

import asyncpg
import asyncpg.connection

from bayaffairs.config import Config
from bayaffairs.db.queries import tap_uploads as q
from bayaffairs.transit.codes import format as fmt
from bayaffairs.transit.uploads import LANES, slot_of
from bayaffairs.wiring.root import assembled
from bench.baseline_app import choose_loop
from bench.processes import Processes
from bench.service import prepare_database
from bench.transit import OPERATOR, STATION, Transit, verify_rate
from bench.uploads import SPREAD_SECONDS, upload_outcomes

TICK = os.sysconf("SC_CLK_TCK")


def _uploads(transit: Transit, label: str, count: int) -> list[q.Upload]:
    start = int(time.time()) - SPREAD_SECONDS
    # New riders each round, two taps each, SPREAD_SECONDS / 2 apart: every tap writes a journey.
    # The run's riders in every round tapped again within seconds of their taps of the round
    # before (so did four taps a rider in one round, a minute apart): double taps, no journey.
    codes = transit.mint(count, transit.new_riders(label, max(1, count // 2)))
    return [
        q.Upload(
            f"{label}-{i}",
            OPERATOR,
            label,
            STATION,
            "in",
            code,
            datetime.fromtimestamp(start + i * SPREAD_SECONDS // count, UTC),
            slot=slot_of(fmt.decode_text(code).account),  # as TapUploads.upload stores them
        )
        for i, code in enumerate(codes)
    ]


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process (and its waited-for children), 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(f) for f in fields[11:15]) / TICK


class Statements:
    """Wall time and backend CPU per SQL statement (its first 90 characters), summed over a
    drain (`--statements`). A backend is idle between its connection's statements, so the CPU it
    used since its previous statement ended is this one's (in clock ticks: a sample, not exact per
    call, but unbiased over many). Wall time includes the time the event loop spent elsewhere
    (another lane verifying) before reading the answer."""

    def __init__(self) -> None:
        self.time: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.count: dict[str, int] = {}

    def logger(self, backend: int) -> Callable[[asyncpg.connection.LoggedQuery], None]:
        last = [_cpu_seconds(backend)]

        def log(record: asyncpg.connection.LoggedQuery) -> None:
            now = _cpu_seconds(backend)
            text = " ".join(record.query.split())[:90]
            self.time[text] = self.time.get(text, 0.0) + record.elapsed
            self.cpu[text] = self.cpu.get(text, 0.0) + now - last[0]
            self.count[text] = self.count.get(text, 0) + 1
            last[0] = now

        return log

    def show(self, taps: int) -> None:
        print(f"  {'wall':>9} {'backend CPU':>11} {'a tap':>8}", flush=True)
        for text, seconds in sorted(self.time.items(), key=lambda kv: -kv[1])[:12]:
            print(
                f"  {seconds:7.3f} s {self.cpu[text]:9.3f} s {self.cpu[text] * 1e6 / taps:5.0f} µs"
                f" {self.count[text]:5d}x  {text}",
                flush=True,
            )


@dataclass(frozen=True)
class Options:
    lanes: int
    limit: int
    taps: int  # in the whole round (a worker's statements' CPU is shown per tap of all workers)
    profile: str | None = None  # a cProfile of the drain, written here
    statements: bool = False  # wall time per statement, printed
    explain: bool = False  # plans of statements over 50 ms, in PostgreSQL's log (auto_explain)


@dataclass(frozen=True)
class Signals:
    """Between the harness and its workers: go, measured (the backends' CPU is read), and a
    queue for what the workers report (their backends' pids, then their CPU seconds)."""

    start: EventType
    measured: EventType
    reports: multiprocessing.queues.Queue[list[int] | float]


def _worker(config: Config, options: Options, signals: Signals) -> None:
    """One server worker's drain: connect, wait for the start, drain, report its CPU seconds."""
    statements = Statements() if options.statements else None

    async def go() -> None:
        async with assembled(config) as wiring:
            service = wiring.services.transit.uploads
            await service.keys.keyset()  # the key cache, as in a worker that has drained before
            gc.collect()  # and its heap frozen once started, as `serve` freezes a worker's (_freeze_heap)
            gc.freeze()
            async with contextlib.AsyncExitStack() as stack:  # the lanes' connections, opened now
                conns = [
                    await stack.enter_async_context(wiring.db.acquire()) for _ in range(options.lanes + 1)
                ]
                for conn in conns:
                    if options.explain:
                        await conn.execute(
                            "LOAD 'auto_explain'; SET auto_explain.log_min_duration = 50;"
                            " SET auto_explain.log_analyze = on; SET auto_explain.log_nested_statements = on"
                        )
                    if statements is not None:
                        conn.add_query_logger(statements.logger(conn.get_server_pid()))
                signals.reports.put([conn.get_server_pid() for conn in conns])
            signals.start.wait()
            profile = cProfile.Profile() if options.profile else None
            cpu = time.process_time()
            if profile is not None:
                profile.enable()
            await service.drain(limit=options.limit, settle_seconds=0, lanes=options.lanes)
            if profile is not None:
                profile.disable()
                profile.dump_stats(options.profile)
            signals.reports.put(time.process_time() - cpu)
            if statements is not None:
                statements.show(options.taps)
            signals.measured.wait()  # the backends' CPU is read before they go

    choose_loop("auto")  # the event loop `serve` runs a worker on
    asyncio.run(go())


async def _store(transit: Transit, uploads: list[q.Upload]) -> None:
    async with assembled(transit.config) as wiring, wiring.db.transaction() as conn:
        await q.store(conn, uploads)


async def _vacuumed(transit: Transit) -> str:
    """VACUUM ANALYZE of the tables the drain reads and writes, when the bench database's server
    runs without autovacuum (as this machine's shared one does): production's autovacuum keeps
    their dead rows and statistics in step, here earlier rounds' would pile up run after run. Its
    time is printed, not counted in the drain's; what the round's own drain leaves dead it pays."""
    async with assembled(transit.config) as wiring, wiring.db.acquire() as conn:
        if await conn.fetchval("SHOW autovacuum") != "off":
            return ""
        started = time.perf_counter()
        await conn.execute("VACUUM ANALYZE tap_uploads, journeys")
        seconds = time.perf_counter() - started
        return f"; autovacuum off: VACUUM ANALYZE tap_uploads, journeys first, {seconds:.1f} s"


def _round(transit: Transit, count: int, workers: int, options: Options) -> str:
    label = f"bench-drain-{transit.run}-{int(time.time() * 1000) % 10**8}"
    asyncio.run(_store(transit, _uploads(transit, label, count)))
    vacuumed = asyncio.run(_vacuumed(transit))
    context = multiprocessing.get_context("fork")
    signals = Signals(context.Event(), context.Event(), context.Queue())
    procs = [
        context.Process(
            target=_worker,
            args=(transit.config, options if i == 0 else replace(options, profile=None), signals),
        )
        for i in range(workers)
    ]
    for proc in procs:
        proc.start()
    backends = [pid for _ in procs for pid in cast(list[int], signals.reports.get())]  # all waiting
    before = {pid: _cpu_seconds(pid) for pid in backends}
    started = time.perf_counter()
    signals.start.set()
    cpu = sum(cast(float, signals.reports.get()) for _ in procs)
    seconds = time.perf_counter() - started
    pg_cpu = sum(_cpu_seconds(pid) - then for pid, then in before.items())
    signals.measured.set()
    for proc in procs:
        proc.join()
    outcomes = asyncio.run(upload_outcomes(label))
    per_tap = 1e6 / count
    return (
        f"drain {count:,} taps in {seconds:.2f} s = {count / seconds:,.0f} taps/s, workers {workers} x lanes "
        f"{options.lanes}; CPU a tap: python {cpu * per_tap:.0f} µs, postgres {pg_cpu * per_tap:.0f} µs; "
        f"{outcomes}; load {os.getloadavg()[0]:.2f}{vacuumed}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--taps", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--lanes", type=int, default=None, help="default: the service's LANES")
    parser.add_argument("--limit", type=int, default=500, help="uploads a lane claims at once")
    parser.add_argument("--profile", help="write a cProfile of the first worker's last drain here")
    parser.add_argument("--statements", action="store_true", help="print wall time per SQL statement")
    parser.add_argument("--explain", action="store_true", help="plans over 50 ms to PostgreSQL's log")
    args = parser.parse_args()
    options = Options(args.lanes or LANES, args.limit, args.taps, None, args.statements, args.explain)
    with tempfile.TemporaryDirectory(prefix="bayaffairs-drain-") as tmp, Processes(Path(tmp)) as processes:
        prepare_database(processes, fresh=False)
        transit = Transit(processes)
        _ = transit.issuer
        print(f"load {os.getloadavg()[0]:.2f}; raw ECDSA verify {verify_rate(1.0, transit.issuer):,.0f}/s")
        for round_ in range(args.repeat):
            last = round_ == args.repeat - 1
            print(
                _round(
                    transit, args.taps, args.workers, replace(options, profile=args.profile if last else None)
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
