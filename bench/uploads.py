"""Batch tap uploads (`POST /v1/gate/taps:batch`) under load, and the background job that turns
them into journeys (`TapUploads.drain`, every 2 s in each server worker).

A Python load rather than wrk: each request is a batch of 1000-5000 fresh taps (up to about
1.3 MB of JSON), so a handful of uploaders saturate the server, and the load generator's own
cost is a few pre-encoded bodies sent per second. Every tap carries a fresh, valid ride code
(minted by bench/transit.py) with a unique tap id, so the background job records every one as
a journey instead of refusing replays, which would be cheaper.

Figures, each against a limit measured in the same run, in this process, on an idle server:
- taps/s accepted (committed into tap_uploads) against COPY of the same rows into a table of
  the same shape on one connection, committed per batch (what the endpoint's COPY could do);
- the drain rate once uploads stop against raw ECDSA P-256 verifications per second (the job
  verifies one signature per tap);
- the drain rate while uploads run, which shares the worker's CPU with them.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import aiohttp
import asyncpg
import orjson

from bayaffairs.transit import uploads as service_uploads
from bench.processes import ProcessError
from bench.service import bench_database_url
from bench.transit import OPERATOR, STATION, Assessment, Transit, verify_rate
from bench.wrk import WrkResult

UPLOADERS = 4  # gates uploading at once
FIRST_GUESS = 10_000  # taps/s assumed when minting the warm-up's bodies
MARGIN = 1.5  # bodies minted for the measured run: warm-up rate x duration x MARGIN
# Seconds between looks for a pending upload. Only to stop watching: the rate comes from the
# uploads' own processed_at. A count of pending uploads reads every one (~0.2 s of a backend at
# 400,000 pending); counted every 0.1 s they took 23 µs of PostgreSQL a drained tap (of ~210 µs).
DRAIN_POLL = 1.0
# The job leaves uploads alone until they are SETTLE_SECONDS old (so that an entry and an exit
# uploaded by different gates are paired in order); the watch waits that out, plus its timer.
SETTLE_SECONDS = float(getattr(service_uploads, "SETTLE_SECONDS", 0))
SETTLE_ALLOWANCE = SETTLE_SECONDS + 15.0
DRAIN_WATCH = 60.0  # seconds of draining watched; what is left then is deleted (see _watch_drain)
AIM_TAPS_PER_S = 50_000

# The interval the runner's CPU accounting covers: entered around the measured load only.
Window = Callable[[], AbstractContextManager[None]]


@dataclass(frozen=True)
class Timing:
    duration: int
    warmup: int


@dataclass
class LoadResult:
    seconds: float = 0.0
    batches: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    non_2xx: dict[int, int] = field(default_factory=dict)
    client_errors: int = 0
    exhausted: bool = False
    latencies_ms: list[float] = field(default_factory=list)


SPREAD_SECONDS = 240  # taps' scan times cover this much time before the codes were issued


def batch_bodies(transit: Transit, label: str, batch: int, batches: int) -> list[bytes]:
    """`batches` request bodies of `batch` taps each, every tap a fresh code with its own id.

    Scan times are whole seconds, as the gate library records them, in order over the
    SPREAD_SECONDS before the codes were issued (inside the 300 s clock tolerance, so every
    code verifies at its scan time): the job claims uploads in scan-time order, and one
    timestamp shared by a whole run would turn each claim into a sort of every pending tap.
    """
    start = int(time.time()) - SPREAD_SECONDS
    total = batch * batches
    codes = transit.mint(total)
    bodies = []
    for b in range(batches):
        taps = []
        for i in range(b * batch, (b + 1) * batch):
            scanned_at = datetime.fromtimestamp(start + i * SPREAD_SECONDS // total, UTC).isoformat()
            taps.append(
                {
                    "tap_id": f"{label}-{i}",
                    "payload": codes[i],
                    "gate_id": label,
                    "station": STATION,
                    "direction": "in",
                    "scanned_at": scanned_at,
                }
            )
        bodies.append(orjson.dumps({"taps": taps}))
    return bodies


async def _upload(
    session: aiohttp.ClientSession,
    url: str,
    headers: dict[str, str],
    bodies: Iterator[bytes],
    deadline: float,
) -> LoadResult:
    result = LoadResult()
    while time.monotonic() < deadline:
        body = next(bodies, None)
        if body is None:
            result.exhausted = True
            break
        started = time.perf_counter()
        try:
            async with session.post(url, data=body, headers=headers) as response:
                answer = await response.read()
                status = response.status
        except aiohttp.ClientError:
            result.client_errors += 1
            continue
        result.latencies_ms.append((time.perf_counter() - started) * 1000)
        result.batches += 1
        if not 200 <= status < 300:
            result.non_2xx[status] = result.non_2xx.get(status, 0) + 1
            continue
        data = orjson.loads(answer)
        result.accepted += data["accepted"]
        result.duplicates += data["duplicates"]
        result.rejected += len(data["rejected"])
    return result


async def _load(port: int, token: str, bodies: Sequence[bytes], seconds: float) -> LoadResult:
    """UPLOADERS tasks post bodies until `seconds` pass or the bodies run out."""
    url = f"http://127.0.0.1:{port}/v1/gate/taps:batch"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    shared = iter(bodies)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=UPLOADERS), timeout=timeout
    ) as session:
        started = time.monotonic()
        parts = await asyncio.gather(
            *(_upload(session, url, headers, shared, started + seconds) for _ in range(UPLOADERS))
        )
        elapsed = time.monotonic() - started
    total = LoadResult(seconds=elapsed)
    for part in parts:
        total.batches += part.batches
        total.accepted += part.accepted
        total.duplicates += part.duplicates
        total.rejected += part.rejected
        total.client_errors += part.client_errors
        total.exhausted |= part.exhausted
        total.latencies_ms += part.latencies_ms
        for status, n in part.non_2xx.items():
            total.non_2xx[status] = total.non_2xx.get(status, 0) + n
    return total


async def _pending(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM tap_uploads WHERE state = 'pending'"))


async def _any_pending(conn: asyncpg.Connection) -> bool:
    """Whether an upload is pending: the first entry of the pending index, not a count."""
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM tap_uploads WHERE state = 'pending')"))


async def _copy_rate(codes: Sequence[str], batch: int, seconds: float) -> float:
    """Taps/s that COPY alone persists: the same rows, `batch` per committed transaction, into a
    scratch table shaped like tap_uploads (same columns, defaults, primary key and indexes)."""
    conn = await asyncpg.connect(bench_database_url())
    table = "bench_tap_copy"
    columns = ["tap_id", "operator", "gate_id", "station", "direction", "payload", "scanned_at"]
    scanned_at = datetime.now(UTC)
    try:
        await conn.execute(f"DROP TABLE IF EXISTS {table}")
        await conn.execute(f"CREATE TABLE {table} (LIKE tap_uploads INCLUDING ALL)")
        done = 0
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            records = [
                (
                    f"copy-{done + i}",
                    OPERATOR,
                    "copy",
                    STATION,
                    "in",
                    codes[(done + i) % len(codes)],
                    scanned_at,
                )
                for i in range(batch)
            ]
            async with conn.transaction():
                await conn.copy_records_to_table(table, records=records, columns=columns)
            done += batch
        return done / (time.perf_counter() - started)
    finally:
        await conn.execute(f"DROP TABLE IF EXISTS {table}")
        await conn.close()


@dataclass
class Drain:
    """The measured uploads, as the server's job worked through them."""

    at_window_start: int = 0
    at_window_end: int = 0
    after_seconds: float = 0.0  # from the first batch that took a measured upload to the last
    after_count: int = 0  # measured uploads decided in that time
    finished: bool = False
    forgotten: int = 0  # pending uploads of the run deleted after the watch


async def _watch_drain(conn: asyncpg.Connection, load_started: float) -> bool:
    """Wait until no upload is pending (True) or DRAIN_WATCH seconds of draining have passed.

    The measured uploads are due SETTLE_SECONDS after the load began; the job drains the
    probe's and warm-up's before them (rested longer). The figure is then read from the
    measured uploads' own processed_at (see _drained), not from counts of pending uploads while
    watching: timed from the first decrease of the count, the rate took in the drain of the
    warm-up and the idle seconds before the measured uploads were due (16 s of the 60 watched in
    one run: 3,576 taps/s reported for 5,008/s over the measured uploads), and the counts, every
    0.1 s, cost the drain about a tenth of its CPU.
    """
    deadline = load_started + SETTLE_ALLOWANCE + DRAIN_WATCH
    while time.monotonic() < deadline:
        await asyncio.sleep(DRAIN_POLL)
        if not await _any_pending(conn):
            return True
    return False


async def _drained(conn: asyncpg.Connection, label: str) -> tuple[int, float]:
    """(uploads of the gate `label` decided, seconds from the first batch that took one to the
    last). processed_at is when a batch's transaction began, so the span leaves out the last
    batch's own time: with hundreds of batches, a fraction of a percent."""
    row = await conn.fetchrow(
        "SELECT count(*) AS n, extract(epoch FROM max(processed_at) - min(processed_at)) AS seconds "
        "FROM tap_uploads WHERE gate_id = $1 AND state <> 'pending'",
        label,
    )
    return int(row["n"]), float(row["seconds"] or 0.0)


async def _forget(conn: asyncpg.Connection, prefix: str) -> int:
    """Delete this run's uploads still pending, so no server drains them during a later row.
    Rows a lane of the job holds are skipped (it decides them): waiting for each lane's batch
    in turn, while the lanes took the next ones, kept one DELETE waiting 44 s."""
    forgotten = 0
    for _ in range(3):
        status = await conn.execute(
            """
            DELETE FROM tap_uploads WHERE (operator, tap_id) IN (
                SELECT operator, tap_id FROM tap_uploads
                WHERE state = 'pending' AND gate_id LIKE $1 || '%' FOR UPDATE SKIP LOCKED)
            """,
            prefix,
        )
        forgotten += int(status.split()[-1])
        await asyncio.sleep(1.0)  # a batch that rolled back leaves its uploads pending again
    return forgotten


async def upload_outcomes(label: str) -> dict[str, int]:
    """The gate `label`'s uploaded taps counted by state and reason (`drained:`, `refused:why`)."""
    conn = await asyncpg.connect(bench_database_url())
    try:
        rows = await conn.fetch(
            "SELECT state, coalesce(reason, '') AS reason, count(*) AS n FROM tap_uploads "
            "WHERE gate_id = $1 GROUP BY 1, 2",
            label,
        )
    finally:
        await conn.close()
    return {f"{r['state']}{':' + r['reason'] if r['reason'] else ''}": int(r["n"]) for r in rows}


def _outcomes(label: str) -> dict[str, int]:
    return asyncio.run(upload_outcomes(label))


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)]


def measure(
    port: int, transit: Transit, batch: int, timing: Timing, window: Window
) -> tuple[WrkResult, Assessment]:
    """Probe, warm up, measure inside `window()`, then watch the drain; see the module docstring."""
    token = transit.gate_token
    run = f"bench-up{batch}-{transit.run}-{int(time.time()) % 100000}"
    sample = transit.mint(1000)
    copy_per_s = asyncio.run(_copy_rate(sample, batch, 2.0))
    verify_per_s = verify_rate(1.0, transit.issuer)

    probe = asyncio.run(_load(port, token, batch_bodies(transit, f"{run}-p", batch, 1), 60))
    if probe.non_2xx or probe.client_errors or probe.accepted != batch:
        raise ProcessError(
            f"taps:batch probe of {batch} taps: statuses {probe.non_2xx or 200}, accepted {probe.accepted}, "
            f"rejected {probe.rejected}, client errors {probe.client_errors}"
        )
    warm_rate = float(FIRST_GUESS)
    if timing.warmup:
        count = max(UPLOADERS, math.ceil(FIRST_GUESS * timing.warmup / batch))
        warm = asyncio.run(_load(port, token, batch_bodies(transit, f"{run}-w", batch, count), timing.warmup))
        warm_rate = warm.accepted / warm.seconds if warm.seconds else warm_rate
    count = max(2 * UPLOADERS, math.ceil(max(warm_rate, 1000.0) * MARGIN * timing.duration / batch))
    label = f"{run}-m"
    bodies = batch_bodies(transit, label, batch, count)

    async def measured() -> tuple[LoadResult, Drain]:
        conn = await asyncpg.connect(bench_database_url())
        try:
            drain = Drain(at_window_start=await _pending(conn))
            load_started = time.monotonic()
            with window():
                result = await _load(port, token, bodies, timing.duration)
            drain.at_window_end = await _pending(conn)
            drain.finished = await _watch_drain(conn, load_started)
            drain.after_count, drain.after_seconds = await _drained(conn, label)
            drain.forgotten = await _forget(conn, run)
        finally:
            await conn.close()
        return result, drain

    result, drain = asyncio.run(measured())
    return _result(result, drain, _outcomes(label), copy_per_s, verify_per_s)


def _result(
    load: LoadResult, drain: Drain, outcomes: dict[str, int], copy_per_s: float, verify_per_s: float
) -> tuple[WrkResult, Assessment]:
    seconds = load.seconds or 1.0
    taps_per_s = load.accepted / seconds
    drained_while = drain.at_window_start + load.accepted - drain.at_window_end
    drain_while_per_s = drained_while / seconds
    drain_after_per_s = drain.after_count / drain.after_seconds if drain.after_seconds else 0.0
    wrk_like = WrkResult(
        requests_per_second=load.batches / seconds,
        p50_ms=_percentile(load.latencies_ms, 0.50),
        p99_ms=_percentile(load.latencies_ms, 0.99),
        requests=load.batches,
        non_2xx=sum(load.non_2xx.values()),
        socket_errors={"client": load.client_errors} if load.client_errors else {},
        counters={"taps_accepted": load.accepted, "exhausted": int(load.exhausted)},
        seconds=seconds,
    )
    figures = {
        "taps_per_s": taps_per_s,
        "copy_taps_per_s_in_process": copy_per_s,
        "ratio_to_copy": taps_per_s / copy_per_s if copy_per_s else 0.0,
        "drain_taps_per_s_after_load": drain_after_per_s,
        "drain_taps_per_s_during_load": drain_while_per_s,
        "verify_per_s_in_process": verify_per_s,
        "drain_ratio_to_verify": drain_after_per_s / verify_per_s if verify_per_s else 0.0,
        **{f"outcome_{k}": float(v) for k, v in outcomes.items()},
    }
    notes = [
        f"{taps_per_s:,.0f} taps/s = {taps_per_s / copy_per_s:.2f}x COPY ({copy_per_s:,.0f}/s in-process); "
        f"aim {AIM_TAPS_PER_S:,}/s {'met' if taps_per_s >= AIM_TAPS_PER_S else 'missed'}",
        f"drain {drain_after_per_s:,.0f} taps/s after the load = {figures['drain_ratio_to_verify']:.2f}x "
        f"ECDSA verify ({verify_per_s:,.0f}/s), "
        f"over {drain.after_count:,} taps in {drain.after_seconds:.0f} s"
        + (f" ({drain.forgotten:,} left pending, deleted)" if drain.forgotten else ""),
        f"drain during the load {drain_while_per_s:,.0f} taps/s (uploads rest {SETTLE_SECONDS:.0f} s first)",
    ]
    problems = []
    if load.exhausted:
        problems.append("ran out of minted batches")
    if load.duplicates or load.rejected:
        problems.append(f"{load.duplicates} duplicates, {load.rejected} rejected taps")
    refused = {k: v for k, v in outcomes.items() if not k.startswith("recorded")}
    if refused:
        problems.append(f"drain refused {refused}")
    if not drain.after_count:
        problems.append("no draining seen")
    return wrk_like, Assessment(figures, notes, problems)
