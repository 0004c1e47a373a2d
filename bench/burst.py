"""`burst`: 1,000 connections at once against the mix a busy morning brings (a Python driver).

Every connection sends, one after another for the whole run, its share of four requests in turn:
a sign-in (POST /v1/auth/sessions, a new rider each time), a seat hold (POST /v1/travel/bookings
on one hot departure), a gate scan (POST /v1/gate/scans with a fresh code) and a slot booking
(POST /v1/appointments at the Hengqin centre). Rate limits are on (one Redis round trip per
request) but never trip. The 1,000 connections start together, far more than the database pool
(10) or the Redis pool (64) of a worker: requests must queue for them, never fail.

Every request is one the rules accept, so that an answer other than 2xx means something:
- a hold is for a passenger not yet on the departure (each rider holds with documents of their
  own, a new one each time; the server runs with `max_active_holds` 1000);
- a booking is by a rider with room in their quotas (2 a day at the centre, 2 of the service:
  each booking rider books at most twice) for a slot start that still has a free desk, taken in
  turn; once every free desk is booked the next answers are 409 `slot_full`, as is a hold's
  409 `sold_out`: the expected refusals of a sold-out day, counted apart (`sold_out`);
- each scan's code is fresh.
So any other 4xx is a problem of the scenario or the service, and a 5xx must not happen.

The row's rate is requests per second, and its ratio is to the bare aiohttp app (GET /json)
loaded in the same run by the same Python client with the same 1,000 connections: wrk's baseline
row measures a C client on 64 connections, no yardstick for this load.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import aiohttp
import asyncpg

from bench import ROOT, uploads
from bench.appointments import CENTRE, SERVICE, _appointments_key, own_macao_id
from bench.processes import free_port
from bench.service import Fixtures, Variant, bench_database_url
from bench.transit import STATION, Assessment, Transit, now_iso
from bench.travel import HKID, _departures, _more_documents
from bench.wrk import WrkResult

CONNECTIONS = 1000
HOLDERS = 100  # riders who hold seats, each with DOCUMENTS_PER_HOLDER documents: one per hold
DOCUMENTS_PER_HOLDER = 200
BOOKINGS_PER_RIDER = 2  # the centre's quota per day and the service's per-rider limit
KINDS = ("sign_in", "hold", "scan", "book")
EXPECTED_REFUSALS = {"sold_out", "slot_full"}  # a sold-out departure or slot: answers, not errors
CODES = 20_000  # fresh ride codes minted before the load (more are minted one by one if it needs them)
# Limits on, as shipped (one Redis INCR per request), set so high they never trip. A rider may
# hold as many unpaid bookings as config allows (each hold is another passenger of theirs).
BURST = Variant(
    "burst",
    {
        "BAYAFFAIRS_RATE_LIMITS_AUTH": "1000000000/60",
        "BAYAFFAIRS_RATE_LIMITS_READ": "1000000000/60",
        "BAYAFFAIRS_RATE_LIMITS_WRITE": "1000000000/60",
        "BAYAFFAIRS_TRAVEL_MAX_ACTIVE_HOLDS": "1000",
    },
)


async def _sign_in(session: aiohttp.ClientSession, base: str, handle: str) -> dict[str, str]:
    async with session.post(f"{base}/v1/auth/sessions", json={"provider": "dev", "code": handle}) as r:
        body = await r.json()
        assert r.status == 201, body
    return {"Authorization": f"Bearer {body['token']}"}


async def _holders(session: aiohttp.ClientSession, base: str, run: str) -> list[tuple[str, list[str]]]:
    """(token, document ids) of HOLDERS riders with a wallet and DOCUMENTS_PER_HOLDER documents:
    the first added through the API, the rest copied in the database as other people's."""
    gate = asyncio.Semaphore(32)

    async def one(i: int) -> tuple[str, str]:
        async with gate:
            auth = await _sign_in(session, base, f"burst-{run}-holder-{i}")
            async with session.put(
                f"{base}/v1/me/wallet", json={"currency": "HKD", "provider": "demo"}, headers=auth
            ) as r:
                assert r.status == 200, await r.text()
            async with session.post(f"{base}/v1/me/documents", json=HKID, headers=auth) as r:
                document = await r.json()
                assert r.status == 201, document
            return auth["Authorization"], document["id"]

    firsts = await asyncio.gather(*(one(i) for i in range(HOLDERS)))
    conn = await asyncpg.connect(bench_database_url())
    try:
        return [
            (token, [first, *await _more_documents(conn, first, DOCUMENTS_PER_HOLDER - 1)])
            for token, first in firsts
        ]
    finally:
        await conn.close()


async def _bookers(session: aiohttp.ClientSession, base: str, run: str, count: int) -> list[tuple[str, str]]:
    """(token, own Macao ID) of `count` riders who consented to their data going to CN (the
    centre's side); the service has a quota, so it needs the applicant's document."""
    gate = asyncio.Semaphore(32)

    async def one(i: int) -> tuple[str, str]:
        async with gate:
            auth = await _sign_in(session, base, f"burst-{run}-booker-{i}")
            async with session.post(
                f"{base}/v1/me/consents", json={"destination": "CN", "purpose": "appointment"}, headers=auth
            ) as r:
                assert r.status in (200, 201), await r.text()
            document = await own_macao_id(session, base, auth, int(run) % 1000 * 1000 + 500 + i)
            return auth["Authorization"], document

    return list(await asyncio.gather(*(one(i) for i in range(count))))


async def _free_desks(session: aiohttp.ClientSession, base: str) -> list[str]:
    """Every free desk of the service's slots as a start, the slots taken in turn (one desk of
    each start, then a second of each, ...), so that one rider's two bookings are not at once."""
    first = (datetime.now(UTC).date() + timedelta(days=1)).isoformat()
    url = f"{base}/v1/centres/{CENTRE}/slots?service={SERVICE}&from={first}&days=60"
    async with session.get(url) as r:
        items = (await r.json())["items"]
    rounds = max((s["remaining"] for s in items), default=0)
    return [s["start"] for n in range(rounds) for s in items if s["remaining"] > n]


def _code(status: int, body: bytes) -> str:
    if status < 400:
        return ""
    try:
        return str(json.loads(body)["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return "?"


class Load:
    """CONNECTIONS connections, each sending requests one after another until a deadline."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.base = base
        self.latencies: list[float] = []
        self.statuses: Counter[str] = Counter()  # "hold 201", "book 409 slot_full", ...
        self.failures: Counter[str] = Counter()

    def clear(self) -> None:
        self.latencies.clear()
        self.statuses.clear()
        self.failures.clear()

    async def run(
        self, seconds: float, request: Callable[[int], tuple[str, str, object, dict[str, str]]]
    ) -> tuple[int, float]:
        counter = itertools.count()

        async def connection(end: float) -> int:
            done = 0
            while time.monotonic() < end:
                kind, path, body, headers = request(next(counter))
                began = time.perf_counter()
                try:
                    if body is None:
                        call = self.session.get(f"{self.base}{path}", headers=headers)
                    else:
                        call = self.session.post(f"{self.base}{path}", json=body, headers=headers)
                    async with call as r:
                        answer = await r.read()
                        self.statuses[f"{kind} {r.status} {_code(r.status, answer)}".rstrip()] += 1
                except (aiohttp.ClientError, TimeoutError) as exc:
                    self.failures[f"{kind} {type(exc).__name__}"] += 1
                self.latencies.append((time.perf_counter() - began) * 1000)
                done += 1
            return done

        began = time.monotonic()
        counts = await asyncio.gather(*(connection(began + seconds) for _ in range(CONNECTIONS)))
        return sum(counts), time.monotonic() - began

    def pick(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


async def _baseline(timing: uploads.Timing) -> tuple[float, float]:
    """(req/s, p99 ms) of the bare aiohttp app (GET /json) under the same client and connections,
    started here on a free port and stopped by its PID."""
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "bench.baseline_app", "--port", str(port), "--workers", "1"),
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        connector = aiohttp.TCPConnector(limit=CONNECTIONS)
        async with aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=60)
        ) as session:
            for _ in range(100):
                try:
                    async with session.get(f"http://127.0.0.1:{port}/json") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.1)
            load = Load(session, f"http://127.0.0.1:{port}")
            plain = lambda n: ("baseline", "/json", None, {})  # noqa: E731
            await load.run(timing.warmup, plain)
            load.clear()
            requests, seconds = await load.run(timing.duration, plain)
            return (requests / seconds if seconds else 0.0), load.pick(0.99)
    finally:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def _burst(
    port: int,
    transit: Transit,
    minted: list[str],
    gate_token: str,
    timing: uploads.Timing,
    window: uploads.Window,
) -> tuple[WrkResult, Assessment]:
    await _appointments_key()
    base = f"http://127.0.0.1:{port}"
    run = str(int(time.time()))
    conn = await asyncpg.connect(bench_database_url())
    try:
        hot, _ = await _departures(conn)
    finally:
        await conn.close()
    connector = aiohttp.TCPConnector(limit=CONNECTIONS)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        holders = await _holders(session, base, run)
        desks = await _free_desks(session, base)
        if not desks:
            raise RuntimeError(f"no free desk for {SERVICE} at {CENTRE} in the next 60 days: --fresh-db")
        # enough riders for every free desk, and one more who only ever meets full slots
        bookers = await _bookers(session, base, run, -(-len(desks) // BOOKINGS_PER_RIDER) + 1)
        codes = iter(minted)
        gate = {"Authorization": f"Bearer {gate_token}"}
        made = dict.fromkeys(KINDS, 0)

        def request(n: int) -> tuple[str, str, object, dict[str, str]]:
            kind = KINDS[n % len(KINDS)]
            i = made[kind]
            made[kind] += 1
            if kind == "sign_in":
                return kind, "/v1/auth/sessions", {"provider": "dev", "code": f"burst-{run}-new-{i}"}, {}
            if kind == "hold":
                # a new passenger each time: rider i % HOLDERS, their next document
                token, documents = holders[i % HOLDERS]
                document = documents[(i // HOLDERS) % DOCUMENTS_PER_HOLDER]
                body = {
                    "departure_id": hot,
                    "fare_class": "standard",
                    "passengers": [{"document_id": document}],
                }
                return kind, "/v1/travel/bookings", body, {"Authorization": token}
            if kind == "scan":
                payload = next(codes, None) or transit.mint(1)[0]
                body = {
                    "payload": payload,
                    "gate_id": f"burst-{run}",
                    "station": STATION,
                    "direction": "in",
                    "scanned_at": now_iso(),
                }
                return kind, "/v1/gate/scans", body, gate
            # the next free desk; past the last one, the last start again (409 slot_full) by the
            # rider who has booked nothing (so no quota of theirs is in the way)
            start = desks[min(i, len(desks) - 1)]
            token, document = bookers[i // BOOKINGS_PER_RIDER] if i < len(desks) else bookers[-1]
            body = {"centre_id": CENTRE, "service_id": SERVICE, "start": start, "document_id": document}
            return kind, "/v1/appointments", body, {"Authorization": token}

        load = Load(session, base)
        await load.run(timing.warmup, request)
        load.clear()
        with window():
            requests, seconds = await load.run(timing.duration, request)
    base_rps, base_p99 = await _baseline(timing)
    return _assess(load, requests, seconds, base_rps, base_p99, made, len(desks))


def _assess(
    load: Load,
    requests: int,
    seconds: float,
    base_rps: float,
    base_p99: float,
    made: dict[str, int],
    desks: int,
) -> tuple[WrkResult, Assessment]:
    statuses = load.statuses
    status_of = lambda key: int(key.split()[1])  # noqa: E731
    five_xx = sum(n for key, n in statuses.items() if status_of(key) >= 500)
    refused = sum(n for key, n in statuses.items() if key.split()[-1] in EXPECTED_REFUSALS)
    other = sum(n for key, n in statuses.items() if 400 <= status_of(key) < 500) - refused
    rps = requests / seconds if seconds else 0.0
    ratio = rps / base_rps if base_rps else 0.0
    p99 = load.pick(0.99)
    result = WrkResult(
        requests_per_second=rps,
        p50_ms=load.pick(0.50),
        p99_ms=p99,
        requests=requests,
        non_2xx=five_xx + other,  # sold-out refusals are the rules' answers, not errors
        socket_errors=dict(load.failures),
        counters={key.replace(" ", "_"): n for key, n in statuses.items()},
        seconds=seconds,
    )
    problems = []
    if five_xx:
        problems.append(f"{five_xx} answers >= 500: {json.dumps(dict(statuses))}")
    if other:
        problems.append(f"{other} unexpected 4xx: {json.dumps(dict(statuses))}")
    if load.failures:
        problems.append(f"client errors {json.dumps(dict(load.failures))}")
    per_kind = {kind: sum(n for key, n in statuses.items() if key.split()[0] == kind) for kind in KINDS}
    return result, Assessment(
        figures={
            "five_xx": float(five_xx),
            "unexpected_4xx": float(other),
            "sold_out": float(refused),
            "connections": float(CONNECTIONS),
            "p99_ms": p99,
            "baseline_same_load_rps": base_rps,
            "baseline_same_load_p99_ms": base_p99,
            "ratio_to_baseline": ratio,
            **{key.replace(" ", "_"): float(n) for key, n in sorted(statuses.items())},
        },
        notes=[
            f"{CONNECTIONS} connections at once: {requests:,} requests in {seconds:.1f} s "
            f"({', '.join(f'{kind} {n:,}' for kind, n in per_kind.items())}); p99 {p99:.0f} ms; "
            f"answers >= 500: {five_xx}; other 4xx: {other}; sold out (409 sold_out/slot_full, "
            f"expected once the {desks:,} free desks are booked): {refused}",
            f"bare aiohttp GET /json under the same client and {CONNECTIONS} connections: "
            f"{base_rps:,.0f} req/s, p99 {base_p99:.0f} ms; ratio {ratio:.2f}x",
            "answers: " + ", ".join(f"{key} {n:,}" for key, n in sorted(statuses.items())),
        ],
        problems=problems,
    )


def burst(fx: Fixtures, timing: uploads.Timing, window: uploads.Window) -> tuple[WrkResult, Assessment]:
    transit = fx.transit
    minted = transit.mint(CODES)  # before the loop: the harness's riders and key are made with asyncio.run
    return asyncio.run(_burst(fx.port, transit, minted, transit.gate_token, timing, window))
