"""`burst`: 1,000 connections at once against the mix a busy morning brings (a Python driver).

Every connection sends, one after another for the whole run, its share of four requests in turn:
a sign-in (POST /v1/auth/sessions, a new rider each time), a seat hold (POST /v1/travel/bookings
on one hot departure), a gate scan (POST /v1/gate/scans with a fresh code) and a slot booking
(POST /v1/appointments at the Hengqin centre). Rate limits are on (one Redis round trip per
request) but never trip. The 1,000 connections start together, far more than the database pool
(10) or the Redis pool (64) of a worker: requests must queue for them, never fail. The row's rate
is requests per second, compared with the bare baseline like every row; its figures count the
answers per kind and the 5xx, which must be 0. Refusals the rules give under such a crowd (a
rider's holds beyond `max_active_holds`, a passenger already on the departure, a full slot or a
rider's quota: 409) are answers, not errors.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import Counter

import aiohttp
import asyncpg

from bench import uploads
from bench.appointments import CENTRE, SERVICE, _appointments_key, _slot_starts
from bench.service import Fixtures, Variant, bench_database_url
from bench.transit import STATION, Assessment, Transit, now_iso
from bench.travel import HKID, _departures
from bench.wrk import WrkResult

CONNECTIONS = 1000
RIDERS = 200  # riders who hold seats and book slots, each with a document and consent
KINDS = ("sign_in", "hold", "scan", "book")
CODES = 20_000  # fresh ride codes minted before the load (more are minted one by one if it needs them)
# Limits on, as shipped (one Redis INCR per request), set so high they never trip.
BURST = Variant(
    "burst",
    {
        "BAYAFFAIRS_RATE_LIMITS_AUTH": "1000000000/60",
        "BAYAFFAIRS_RATE_LIMITS_READ": "1000000000/60",
        "BAYAFFAIRS_RATE_LIMITS_WRITE": "1000000000/60",
    },
)


async def _riders(session: aiohttp.ClientSession, base: str, run: str) -> list[tuple[str, str]]:
    """(token, document id) of RIDERS riders with a wallet, an HKID each and consent for CN."""
    gate = asyncio.Semaphore(32)

    async def one(i: int) -> tuple[str, str]:
        async with gate:
            async with session.post(
                f"{base}/v1/auth/sessions", json={"provider": "dev", "code": f"burst-{run}-{i}"}
            ) as r:
                auth = {"Authorization": f"Bearer {(await r.json())['token']}"}
            async with session.put(
                f"{base}/v1/me/wallet", json={"currency": "HKD", "provider": "demo"}, headers=auth
            ) as r:
                assert r.status == 200, await r.text()
            async with session.post(f"{base}/v1/me/documents", json=HKID, headers=auth) as r:
                document = await r.json()
                assert r.status == 201, document
            async with session.post(
                f"{base}/v1/me/consents", json={"destination": "CN", "purpose": "appointment"}, headers=auth
            ) as r:
                assert r.status in (200, 201), await r.text()
            return auth["Authorization"], document["id"]

    return list(await asyncio.gather(*(one(i) for i in range(RIDERS))))


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
        riders = await _riders(session, base, run)
        starts = await _slot_starts(session, base)
        codes = iter(minted)
        gate = {"Authorization": f"Bearer {gate_token}"}
        counter = itertools.count()
        latencies: list[float] = []
        statuses: Counter[str] = Counter()
        failures: Counter[str] = Counter()

        def request(kind: str, n: int) -> tuple[str, dict[str, object], dict[str, str]]:
            token, document = riders[n % len(riders)]
            if kind == "sign_in":
                return "/v1/auth/sessions", {"provider": "dev", "code": f"burst-{run}-new-{n}"}, {}
            if kind == "hold":
                body = {
                    "departure_id": hot,
                    "fare_class": "standard",
                    "passengers": [{"document_id": document}],
                }
                return "/v1/travel/bookings", body, {"Authorization": token}
            if kind == "scan":
                payload = next(codes, None) or transit.mint(1)[0]
                body = {
                    "payload": payload,
                    "gate_id": f"burst-{run}",
                    "station": STATION,
                    "direction": "in",
                    "scanned_at": now_iso(),
                }
                return "/v1/gate/scans", body, gate
            body = {"centre_id": CENTRE, "service_id": SERVICE, "start": starts[n % len(starts)]}
            return "/v1/appointments", body, {"Authorization": token}

        async def connection(first: int, end: float) -> int:
            done = 0
            for kind in itertools.islice(itertools.cycle(KINDS), first, None):
                if time.monotonic() >= end:
                    return done
                path, body, headers = request(kind, next(counter))
                began = time.perf_counter()
                try:
                    async with session.post(f"{base}{path}", json=body, headers=headers) as r:
                        await r.read()
                        statuses[f"{kind}_{r.status}"] += 1
                except (aiohttp.ClientError, TimeoutError) as exc:
                    failures[f"{kind}_{type(exc).__name__}"] += 1
                latencies.append((time.perf_counter() - began) * 1000)
                done += 1
            return done

        async def load(seconds: float) -> tuple[int, float]:
            began = time.monotonic()
            counts = await asyncio.gather(
                *(connection(i % len(KINDS), began + seconds) for i in range(CONNECTIONS))
            )
            return sum(counts), time.monotonic() - began

        await load(timing.warmup)
        latencies.clear()
        statuses.clear()
        failures.clear()
        with window():
            requests, seconds = await load(timing.duration)
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else 0.0  # noqa: E731
    five_xx = sum(n for key, n in statuses.items() if int(key.rsplit("_", 1)[1]) >= 500)
    other = sum(
        n
        for key, n in statuses.items()
        if int(key.rsplit("_", 1)[1]) not in (200, 201, 409) and int(key.rsplit("_", 1)[1]) < 500
    )
    result = WrkResult(
        requests_per_second=requests / seconds if seconds else 0.0,
        p50_ms=pick(0.50),
        p99_ms=pick(0.99),
        requests=requests,
        non_2xx=five_xx + other,  # 409s are the rules' answers to a crowd, not errors
        socket_errors=dict(failures),
        counters=dict(statuses),
        seconds=seconds,
    )
    problems = []
    if five_xx:
        problems.append(f"{five_xx} answers >= 500: {json.dumps(dict(statuses))}")
    if other:
        problems.append(f"{other} unexpected answers: {json.dumps(dict(statuses))}")
    if failures:
        problems.append(f"client errors {json.dumps(dict(failures))}")
    per_kind = {kind: sum(n for key, n in statuses.items() if key.startswith(kind)) for kind in KINDS}
    return result, Assessment(
        figures={
            "five_xx": float(five_xx),
            "connections": float(CONNECTIONS),
            **{f"{key}": float(n) for key, n in sorted(statuses.items())},
        },
        notes=[
            f"{CONNECTIONS} connections at once; answers >= 500: {five_xx}; "
            + ", ".join(f"{kind} {n}" for kind, n in per_kind.items())
            + f"; p99 {pick(0.99):.0f} ms"
        ],
        problems=problems,
    )


def burst(fx: Fixtures, timing: uploads.Timing, window: uploads.Window) -> tuple[WrkResult, Assessment]:
    transit = fx.transit
    minted = transit.mint(CODES)  # before the loop: the harness's riders and key are made with asyncio.run
    return asyncio.run(_burst(fx.port, transit, minted, transit.gate_token, timing, window))
