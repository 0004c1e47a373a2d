"""Ride-code data for the transit scenarios: the issuer's key, riders, a gate token, fresh codes.

Every scan must carry a code nobody used before: a replay is a deny, which is cheaper than an
open and would flatter the figure. So codes are minted here, in the harness, with the service's
own code (`issuer_code_body`, `sign`, Base45) and the issuer key the service itself loads from
the bench database, moments before each wrk run (a code is good for `code_seconds` plus the
clock skew). The riders tap in on a bus (`shenzhen_bus`), whose journeys complete at tap-in, so
an account can tap in again and again and every answer should be `open`.

Riders are new for every harness run (users + ride_accounts rows, wallet HKD via `demo`), so a
run never inherits the journeys of earlier runs: the scan's "previous journey" lookup reads a
rider's history, and a history that grew from run to run would make runs incomparable. A scan
row (`ScanLoad` without riders) makes a new rider for every code it mints: a rider scanned again
within the operator's double_tap_seconds is a double tap, not a tap-in. The run's RIDERS, taken
in turn, are the other loads' (uploads, burst); `scan_history` has HISTORY_RIDERS of its own.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import json
import multiprocessing
import os
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import asyncpg
import orjson
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bayaffairs.config import Config, load_config
from bayaffairs.errors import DomainError
from bayaffairs.transit.codes import base45
from bayaffairs.transit.codes import format as fmt
from bayaffairs.transit.codes.signatures import sign
from bayaffairs.transit.keyring import ISSUER, key_number
from bayaffairs.transit.qr import render_png
from bayaffairs.wiring.root import assembled
from bench import ROOT
from bench.processes import ProcessError, Processes
from bench.service import PLAIN, bayaffairs_command, bench_database_url, service_env

OPERATOR = "shenzhen_bus"  # tap-in only: a journey completes at tap-in, so riders can tap again
CITY = "shenzhen"
STATION = "1"  # a route of shenzhen_bus
RIDERS = 10_000
# Riders with a past, for `scan_history`: a commuter riding twice a day has 1000 journeys after
# about 16 months, and each tap-in looks up the rider's latest journey (transfer discounts).
HISTORY_RIDERS = 500
HISTORY_JOURNEYS = 1000
WALLET = ("HKD", "demo")
PARALLEL_MINT_FROM = 20_000  # below this, forking workers costs more than it saves

T = TypeVar("T")

# The answers of POST /v1/gate/scans as orjson writes them (no spaces), counted by wrk's Lua.
OPEN = '"decision":"open"'
DENY = '"decision":"deny"'


@dataclass(frozen=True)
class Assessment:
    """What a scenario's own checks found after a measurement.

    `figures` are numbers for the report and JSON (name -> value; the name carries the unit),
    `notes` are shown next to the row, and `problems` mark the row `CHECK: ...`.
    """

    figures: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Issuer:
    """The ride-code signing key as the service uses it, and what every code of a run shares."""

    key_number: int
    private_der: bytes
    scope: int
    valid_for: int

    def private_key(self) -> ec.EllipticCurvePrivateKey:
        """Loaded from DER on each call: the dataclass stays picklable for forked minting workers."""
        key = serialization.load_der_private_key(self.private_der, password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key


def bench_config() -> Config:
    """The configuration the bench server runs with (same profile, secrets and database)."""
    return load_config(environ=service_env(PLAIN))


async def _issuer(config: Config) -> Issuer:
    async with assembled(config) as wiring:
        keys = wiring.services.transit.issuer_keys
        try:
            key = await keys.signing_key(ISSUER)
        except DomainError as exc:  # NotFound or Unavailable, depending on the version
            if exc.code != "no_signing_key":
                raise
            await keys.rotate(ISSUER)
            key = await keys.signing_key(ISSUER)
    der = key.private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    scope = config.cities[CITY].scope_code
    return Issuer(key_number(key.kid), der, scope, config.settings.ride_codes.code_seconds)


async def _create_riders(url: str, run: str, count: int) -> list[bytes]:
    ids = [f"bench-{run}-{i}" for i in range(count)]
    tokens = [os.urandom(8) for _ in ids]
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            await conn.execute(
                """
                INSERT INTO users (id, display_name, wallet_currency, wallet_provider)
                SELECT id, 'bench rider', $2, $3 FROM unnest($1::text[]) AS id
                """,
                ids,
                *WALLET,
            )
            await conn.execute(
                """
                INSERT INTO ride_accounts (account_token, user_id)
                SELECT * FROM unnest($1::bytea[], $2::text[])
                """,
                tokens,
                ids,
            )
    finally:
        await conn.close()
    return tokens


async def _give_history(url: str, run: str, tokens: Sequence[bytes], journeys: int) -> None:
    """Completed, already charged bus journeys, one every 12 hours back from now, per rider."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            """
            INSERT INTO journeys (id, account_token, user_id, operator, category, status,
                                  entry_station, entry_at, fare_amount, fare_currency, fare_rule,
                                  charge_status, created_at, updated_at)
            SELECT 'bench-' || $3 || '-' || a.user_id || '-' || g, a.account_token, a.user_id, $4, 'adult',
                   'completed', $5, now() - g * interval '12 hours', 200, 'CNY', 'bench history',
                   'none', now() - g * interval '12 hours', now() - g * interval '12 hours'
            FROM ride_accounts a CROSS JOIN generate_series(1, $2) AS g
            WHERE a.account_token = ANY($1::bytea[])
            """,
            list(tokens),
            journeys,
            run,
            OPERATOR,
            STATION,
        )
        await conn.execute("ANALYZE journeys")
    finally:
        await conn.close()


def _mint_chunk(issuer: Issuer, issued_at: int, accounts: Sequence[bytes]) -> list[str]:
    """Codes for `accounts`, one each: the service's layout, signature and Base45, as issue_code does."""
    key = issuer.private_key()
    out = []
    for account in accounts:
        body = fmt.issuer_code_body(
            issuer.key_number, issued_at, issuer.valid_for, issuer.scope, account, os.urandom(8)
        )
        out.append(base45.encode(body + sign(key, body)))
    return out


class Transit:
    """Once per harness run: the key, the riders and the gate token, made on first use."""

    def __init__(self, processes: Processes) -> None:
        self.processes = processes
        self.run = uuid.uuid4().hex[:8]
        self._next_rider = 0

    @functools.cached_property
    def config(self) -> Config:
        return bench_config()

    @functools.cached_property
    def issuer(self) -> Issuer:
        """The signing key in the bench database; `keys rotate ride_codes` once if it has none.

        Made before the first scan reaches a server, whose key set is read on that scan.
        """
        return asyncio.run(_issuer(self.config))

    @functools.cached_property
    def riders(self) -> list[bytes]:
        return asyncio.run(_create_riders(bench_database_url(), self.run, RIDERS))

    def new_riders(self, label: str, count: int) -> list[bytes]:
        """`count` more riders, with no journeys yet (`label`: unique in this run)."""
        return asyncio.run(_create_riders(bench_database_url(), f"{self.run}{label}", count))

    @functools.cached_property
    def history_riders(self) -> list[bytes]:
        """HISTORY_RIDERS riders with HISTORY_JOURNEYS past journeys each (made once a run)."""
        url = bench_database_url()
        tokens = asyncio.run(_create_riders(url, f"{self.run}h", HISTORY_RIDERS))
        asyncio.run(_give_history(url, self.run, tokens, HISTORY_JOURNEYS))
        return tokens

    @functools.cached_property
    def gate_token(self) -> str:
        """A gate credential for the bus operator, through the CLI an operator would use."""
        output = self.processes.run(
            "gate-token",
            [*bayaffairs_command(), "credentials", "issue", "gate", OPERATOR, "--label", "bench", "--json"],
            env=service_env(PLAIN),
            cwd=ROOT,
            timeout=60,
        )
        for line in reversed(output.splitlines()):
            if line.startswith("{"):
                return str(json.loads(line)["token"])
        raise ProcessError(f"`credentials issue` printed no token:\n{output[-500:]}")

    def mint(self, count: int, riders: Sequence[bytes] | None = None) -> list[str]:
        """`count` fresh codes, issued now, the riders (default: the run's new ones) in turn."""
        riders = riders if riders is not None else self.riders
        accounts = [riders[(self._next_rider + i) % len(riders)] for i in range(count)]
        self._next_rider += count
        return mint_issuer_codes(self.issuer, accounts, int(time.time()))


def in_parallel(function: Callable[..., list[T]], shared: tuple[Any, ...], items: Sequence[Any]) -> list[T]:
    """`function(*shared, chunk)` over chunks of `items` on every CPU, results in order.

    Signing is about 30 µs and Base45 about 17 µs a code in Python, so 100k codes take seconds
    on one core; the server is idle meanwhile and nothing is measured, so forked workers use
    both. Small jobs stay in this process, where forking would cost more than it saves.
    """
    workers = os.cpu_count() or 1
    if len(items) < PARALLEL_MINT_FROM or workers == 1:
        return function(*shared, items)
    size = -(-len(items) // workers)
    chunks = [items[i : i + size] for i in range(0, len(items), size)]
    context = multiprocessing.get_context("fork")
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
        parts = pool.map(function, *([value] * len(chunks) for value in shared), chunks)
        return [result for part in parts for result in part]


def mint_issuer_codes(issuer: Issuer, accounts: Sequence[bytes], issued_at: int) -> list[str]:
    """One fresh issuer code per account, as `RideCodeService.issue_code` makes them."""
    return in_parallel(_mint_chunk, (issuer, issued_at), accounts)


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


# What a scan writes: its tap, its journey, and the charging job's claim of the journey (a row
# made and deleted per journey, 0056), each journey updated once more when it is charged.
SCAN_TABLES = ("taps", "journeys", "charge_claims")


def vacuumed(tables: Sequence[str] = SCAN_TABLES) -> str:
    """VACUUM ANALYZE of `tables` when the bench database's server runs without autovacuum (as
    this machine's shared one does), as bench.drain does before its round: production's
    autovacuum keeps their dead rows and statistics in step; here every earlier run's would pile
    up (each scan leaves a dead journey version and a dead claim once charged) and the index
    probes of the tap-in and of the charging job's claim walk them. What it did, for the log."""
    return _without_autovacuum("VACUUM ANALYZE", tables)


def analyzed(tables: Sequence[str] = SCAN_TABLES) -> str:
    """ANALYZE of `tables` after a fed row's warm-up, when the server runs without autovacuum.

    On a fresh database the vacuum before the warm-up finds these tables empty, and each
    worker connection's prepared tap-in statement then keeps a plan made for empty tables: seq
    scans of taps and journeys for every probe (measured: 0.03x, PostgreSQL at 160% of a CPU,
    auto_explain showing Seq Scan on taps and journeys). Production's autoanalyze replans after
    the first 50 rows; here the ANALYZE does, since new statistics invalidate cached plans."""
    return _without_autovacuum("ANALYZE", tables, " after the warm-up")


def _without_autovacuum(command: str, tables: Sequence[str], when: str = "") -> str:
    """`command` on `tables` if the server runs without autovacuum; what it did, for the log."""

    async def go() -> str:
        conn = await asyncpg.connect(bench_database_url())
        try:
            if await conn.fetchval("SHOW autovacuum") != "off":
                return ""
            started = time.perf_counter()
            await conn.execute(f"{command} {', '.join(tables)}")
            seconds = time.perf_counter() - started
            return f"autovacuum off: {command} {', '.join(tables)}{when}, {seconds:.1f} s"
        finally:
            await conn.close()

    return asyncio.run(go())


def charges_waiting() -> int:
    """Journeys waiting for the charging job in the bench database, as the service's backlog
    gauge counts them (`Backlog.read`: the charges the job would take, claimed or not).

    A scan row makes a journey a scan, faster than the job charges them (bench/README.md,
    Charging backlog): what it leaves is charged while the rows after it run, on the same server
    or, once the harness stops, the next run's first server. A row that starts with a backlog
    shares its server with that work, so the count is one of its figures."""

    async def go() -> int:
        async with assembled(bench_config()) as wiring:
            return (await wiring.services.transit.backlog.read(WAITING_LIMIT)).charges.count

    return asyncio.run(go())


WAITING_LIMIT = 100_000_000  # no cap that a bench database could reach


def fetch_value(query: str, *args: Any) -> Any:
    """One value from the bench database (a count after a run)."""

    async def go() -> Any:
        conn = await asyncpg.connect(bench_database_url())
        try:
            return await conn.fetchval(query, *args)
        finally:
            await conn.close()

    return asyncio.run(go())


class ScanLoad:
    """Scan bodies for one wrk run (each a fresh code, gate id = the run's label), and the
    checks after it: every answer `open`, and every `open` backed by a committed tap."""

    def __init__(self, transit: Transit, label: str, riders: Sequence[bytes] | None = None) -> None:
        self.transit = transit
        self.label = label
        self.riders = riders

    def bodies(self, count: int) -> Iterable[bytes]:
        """A code each, issued now; without riders of its own (`scan_history`'s), a new rider for
        every code: a rider scanned again within the operator's double_tap_seconds (60 s) is let
        through on the journey already paid, a double tap, which writes no journey and charges
        nothing, and would flatter the figure as a replay would."""
        riders = self.riders if self.riders is not None else self.transit.new_riders(self.label, count)
        scanned_at = now_iso()
        for payload in self.transit.mint(count, riders):
            yield orjson.dumps(
                {
                    "payload": payload,
                    "gate_id": self.label,
                    "station": STATION,
                    "direction": "in",
                    "scanned_at": scanned_at,
                }
            )

    def assess(self, counters: dict[str, int], requests: int, non_2xx: int, errors: int) -> Assessment:
        """`requests`: the answers wrk counted, each of which the Lua response() hook read: every
        one that is not a 4xx or 5xx (`non_2xx`, wrk's own check) must be an open or a deny."""
        opens, denies = counters.get("open", 0), counters.get("deny", 0)
        uncounted = requests - non_2xx - opens - denies
        taps = int(fetch_value("SELECT count(*) FROM taps WHERE gate_id = $1", self.label))
        # A tap-in that made its journey entered it at the tap's time; a double tap's journey
        # was entered by an earlier tap.
        double = int(fetch_value(_DOUBLE_TAPS, self.label))
        figures = {"open": opens, "deny": denies, "taps_committed": taps, "double_taps": double}
        notes = [f"open {opens:,}, deny {denies:,}, taps committed {taps:,}, double taps {double:,}"]
        problems = []
        if denies:
            problems.append(f"{denies} denies")
        if uncounted:
            problems.append(f"{uncounted} answers neither open nor deny")
        if taps < opens:
            problems.append(f"only {taps} taps committed for {opens} opens")
        if double and self.riders is None:
            problems.append(f"{double} double taps (no journey, no charge)")
        return Assessment(figures, notes, problems)


_DOUBLE_TAPS = """
    SELECT count(*) FROM taps t JOIN journeys j ON j.id = t.journey_id
    WHERE t.gate_id = $1 AND j.entry_at IS DISTINCT FROM t.scanned_at
"""


def verify_rate(seconds: float = 1.0, issuer: Issuer | None = None) -> float:
    """Raw `cryptography` ECDSA P-256 verifications per second on this core: the physical limit of
    anything that checks one issuer signature per code. DER signatures over 27-byte bodies, like
    the codes', made beforehand so only verify() is timed."""
    private = issuer.private_key() if issuer else ec.generate_private_key(ec.SECP256R1())
    public = private.public_key()
    algorithm = ec.ECDSA(hashes.SHA256())
    samples = []
    for _ in range(256):
        body = os.urandom(27)
        samples.append((private.sign(body, algorithm), body))
    return _rate(lambda i: public.verify(*samples[i % 256], algorithm), seconds)


def render_rate(transit: Transit, seconds: float = 1.0) -> float:
    """PNGs per second that `render_png` (the function the service's process pool runs) makes on
    one core, for fresh codes: the ceiling of one worker's image path, its pool having 1 process."""
    payloads = transit.mint(max(32, int(seconds * 400)))
    return _rate(lambda i: render_png(payloads[i % len(payloads)]), seconds)


def _rate(call: Callable[[int], object], seconds: float) -> float:
    done = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(16):
            call(done)
            done += 1
        now = time.perf_counter()
        if now >= deadline:
            return done / (now - start)
