"""Cross-border travel scenarios: seat holds on one hot departure, and departure searches.

- `travel_holds`: a Python driver. CONCURRENCY requests at a time POST /v1/travel/bookings for
  one passenger on the same departure (its capacity raised in the bench database so that holds
  succeed for the whole run). One document holds one seat per departure, and a rider at most
  `max_active_holds` unpaid bookings: so each of the CONCURRENCY connections is a rider of its
  own (the server runs with max_active_holds 1000, the most config allows) holding a different
  document each time (its first added through the API, the rest copied from it in the database
  with fingerprints of their own). In the same run and at the same concurrency, a raw asyncpg
  transaction (the conditional single-row UPDATE of the seats plus the booking INSERT, nothing
  else) is measured on another departure: the row's `raw_tx_per_s` and `vs_raw` say what the
  endpoint costs over the bare database work. Like with like: `vs_raw` is against the raw
  transaction committed durably, as holds are by default (`[travel] durable_holds = true`);
  `vs_raw_noflush` is the reference for a server run with durable_holds off. After the load
  the database is checked: seats held must equal the bookings made and never exceed capacity
  (oversold must be 0).
- `travel_search`: GET /v1/travel/departures of one origin and destination, 20 a page,
  anonymous (wrk), against the harness's bare JSON baseline like every wrk row.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from datetime import UTC, datetime, timedelta

import aiohttp
import asyncpg

from bayaffairs.ids import new_id
from bench import uploads
from bench.service import Fixtures, bench_database_url
from bench.transit import Assessment
from bench.wrk import Request, WrkResult

CONCURRENCY = 64
CARRIER, ROUTE = "hzmb_bus", "hk_macao"
HOT_CAPACITY = 1_000_000
AIM_VS_RAW = 0.5  # the aim: holds/s at least half the raw durable transaction's
HKID = {
    "type": "hkid",
    "holder_name": "Bench Traveller",
    "number": "A123456(3)",
    "issuing": "HK",
    "expires": "2035-01-01",
}


def search(fx: Fixtures) -> Request:
    return Request("GET", "/v1/travel/departures?origin=hzmb_hk_port&destination=hzmb_macao_port&limit=20")


async def _departures(conn: asyncpg.Connection) -> tuple[str, str]:
    """Two departures of the hot route a few hours ahead: one for the API, one for raw SQL."""
    rows = await conn.fetch(
        "SELECT id FROM travel_departures WHERE carrier = $1 AND route = $2 AND departs_at > $3"
        " ORDER BY departs_at LIMIT 2",
        CARRIER,
        ROUTE,
        datetime.now(UTC) + timedelta(hours=3),
    )
    if len(rows) < 2:
        raise RuntimeError("no departures materialised in the bench database: did the service start?")
    for row in rows:
        await conn.execute(
            "UPDATE travel_inventory SET capacity = $2 WHERE departure_id = $1", row["id"], HOT_CAPACITY
        )
    return rows[0]["id"], rows[1]["id"]


DOCUMENTS_PER_RIDER = 1000  # = the server's max_active_holds: each a seat on the hot departure


async def _rider(session: aiohttp.ClientSession, base: str, n: int = 0) -> tuple[str, str, str]:
    handle = f"bench-traveller-{int(time.time() * 1000)}-{n}"
    async with session.post(f"{base}/v1/auth/sessions", json={"provider": "dev", "code": handle}) as r:
        token = (await r.json())["token"]
    auth = {"Authorization": f"Bearer {token}"}
    async with session.put(
        f"{base}/v1/me/wallet", json={"currency": "HKD", "provider": "demo"}, headers=auth
    ) as r:
        assert r.status == 200, await r.text()
    async with session.post(f"{base}/v1/me/documents", json=HKID, headers=auth) as r:
        document = await r.json()
        assert r.status == 201, document
    async with session.get(f"{base}/v1/me", headers=auth) as r:
        user_id = (await r.json())["id"]
    return token, document["id"], user_id


async def _more_documents(conn: asyncpg.Connection, document_id: str, count: int) -> list[str]:
    """`count` copies of a rider's document, each another person's (its own fingerprint)."""
    row = await conn.fetchrow("SELECT * FROM documents WHERE id = $1", document_id)
    assert row is not None
    ids = [new_id("doc") for _ in range(count)]
    await conn.copy_records_to_table(
        "documents",
        columns=[
            "id",
            "user_id",
            "type",
            "holder_name",
            "number_ciphertext",
            "number_fingerprint",
            "number_masked",
            "issuing",
            "expires",
            "created_at",
        ],
        records=[
            (
                i,
                row["user_id"],
                row["type"],
                row["holder_name"],
                row["number_ciphertext"],
                os.urandom(32),
                row["number_masked"],
                row["issuing"],
                row["expires"],
                row["created_at"],
            )
            for i in ids
        ],
    )
    return ids


def _pick(latencies: list[float], q: float) -> float:
    return latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else 0.0


async def _raw(
    pool: asyncpg.Pool, departure: str, user_id: str, seconds: float, *, flush: bool
) -> tuple[int, float, float]:
    """The bare transaction a hold needs, at the same concurrency: (count, seconds, p99 ms)."""
    done = 0
    latencies: list[float] = []
    end = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal done
        async with pool.acquire() as conn:
            while time.monotonic() < end:
                began = time.perf_counter()
                async with conn.transaction():
                    if not flush:
                        await conn.execute("SET LOCAL synchronous_commit TO OFF")
                    fare = await conn.fetchval(
                        "UPDATE travel_inventory SET held = held + 1 WHERE departure_id = $1"
                        " AND fare_class = 'standard' AND capacity - sold - held >= 1 RETURNING fare_amount",
                        departure,
                    )
                    now = datetime.now(UTC)
                    await conn.execute(
                        "INSERT INTO travel_bookings (id, user_id, departure_id, carrier, fare_class, seats,"
                        " status, total_amount, currency, expires_at, created_at, updated_at)"
                        " VALUES ($1, $2, $3, $4, 'standard', 1, 'held', $5, 'HKD', $6, $7, $7)",
                        new_id("bkg"),
                        user_id,
                        departure,
                        CARRIER,
                        fare,
                        now + timedelta(minutes=10),
                        now,
                    )
                latencies.append((time.perf_counter() - began) * 1000)
                done += 1

    began = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    latencies.sort()
    return done, time.monotonic() - began, _pick(latencies, 0.99)


async def _oversold(conn: asyncpg.Connection, departures: tuple[str, ...]) -> tuple[int, int]:
    """(departures whose seats disagree with their bookings, departures held over capacity)."""
    disagree = await conn.fetchval(
        """SELECT count(*) FROM travel_inventory i
           WHERE i.departure_id = ANY($1::text[])
             AND i.held + i.sold <> (SELECT coalesce(sum(b.seats), 0) FROM travel_bookings b
                 WHERE b.departure_id = i.departure_id AND b.fare_class = i.fare_class
                   AND b.status IN ('held', 'paying', 'confirmed'))""",
        list(departures),
    )
    over = await conn.fetchval(
        "SELECT count(*) FROM travel_inventory"
        " WHERE departure_id = ANY($1::text[]) AND held + sold > capacity",
        list(departures),
    )
    return int(disagree), int(over)


async def _holds(port: int, timing: uploads.Timing, window: uploads.Window) -> tuple[WrkResult, Assessment]:
    base = f"http://127.0.0.1:{port}"
    conn = await asyncpg.connect(bench_database_url())
    pool = await asyncpg.create_pool(bench_database_url(), min_size=CONCURRENCY, max_size=CONCURRENCY)
    try:
        hot, raw_departure = await _departures(conn)
        connector = aiohttp.TCPConnector(limit=CONCURRENCY)
        async with aiohttp.ClientSession(connector=connector) as session:
            riders = [await _rider(session, base, n) for n in range(CONCURRENCY)]
            user_id = riders[0][2]
            documents = [
                [document, *await _more_documents(conn, document, DOCUMENTS_PER_RIDER - 1)]
                for _, document, _ in riders
            ]
            latencies: list[float] = []
            statuses: dict[int, int] = {}

            async def worker(end: float, rider: int) -> int:
                n = 0
                headers = {"Authorization": f"Bearer {riders[rider][0]}"}
                mine = documents[rider]
                while time.monotonic() < end and mine:
                    body = {
                        "departure_id": hot,
                        "fare_class": "standard",
                        "passengers": [{"document_id": mine.pop()}],
                    }
                    began = time.perf_counter()
                    async with session.post(f"{base}/v1/travel/bookings", json=body, headers=headers) as r:
                        await r.read()
                        statuses[r.status] = statuses.get(r.status, 0) + 1
                    latencies.append((time.perf_counter() - began) * 1000)
                    n += 1
                return n

            async def load(seconds: float) -> tuple[int, float]:
                began = time.monotonic()
                counts = await asyncio.gather(*(worker(began + seconds, r) for r in range(CONCURRENCY)))
                return sum(counts), time.monotonic() - began

            await load(timing.warmup)
            latencies.clear()
            statuses.clear()
            with window():
                attempts, seconds = await load(timing.duration)
        raw_count, raw_seconds, raw_p99 = await _raw(
            pool, raw_departure, user_id, timing.duration, flush=True
        )
        nf_count, nf_seconds, nf_p99 = await _raw(pool, raw_departure, user_id, timing.duration, flush=False)
        disagree, over = await _oversold(conn, (hot, raw_departure))
    finally:
        await pool.close()
        await conn.close()
    latencies.sort()
    rate = attempts / seconds if seconds else 0.0
    raw_rate = raw_count / raw_seconds if raw_seconds else 0.0
    nf_rate = nf_count / nf_seconds if nf_seconds else 0.0
    result = WrkResult(
        requests_per_second=rate,
        p50_ms=_pick(latencies, 0.50),
        p99_ms=_pick(latencies, 0.99),
        requests=attempts,
        non_2xx=sum(n for s, n in statuses.items() if s >= 300),
        socket_errors={},
        counters={f"status_{s}": n for s, n in statuses.items()},
        seconds=seconds,
    )
    problems = []
    if over or disagree:
        problems.append(f"{over} departures oversold, {disagree} whose seats disagree with the bookings")
    if set(statuses) - {201}:
        problems.append(f"unexpected statuses {json.dumps(statuses)}")
    return result, Assessment(
        figures={
            "held_201": float(statuses.get(201, 0)),
            "raw_tx_per_s": round(raw_rate, 1),
            "raw_p99_ms": round(raw_p99, 2),
            "vs_raw": round(rate / raw_rate, 3) if raw_rate else 0.0,
            "raw_noflush_tx_per_s": round(nf_rate, 1),
            "raw_noflush_p99_ms": round(nf_p99, 2),
            "vs_raw_noflush": round(rate / nf_rate, 3) if nf_rate else 0.0,
            "oversold": float(over),
        },
        notes=[
            f"vs raw UPDATE+INSERT at {CONCURRENCY}, both durable (commit waits for the flush, as holds "
            f"do with durable_holds = true, the default): {rate / raw_rate if raw_rate else 0:.2f}x "
            f"({raw_rate:.0f}/s, p99 {raw_p99:.1f} ms); "
            f"aim >= {AIM_VS_RAW:.2f}x: {'met' if raw_rate and rate / raw_rate >= AIM_VS_RAW else 'MISSED'}",
            f"{rate / nf_rate if nf_rate else 0:.2f}x of the raw transaction without the flush wait "
            f"({nf_rate:.0f}/s, p99 {nf_p99:.1f} ms; the like-for-like reference only for a server "
            "run with BAYAFFAIRS_TRAVEL_DURABLE_HOLDS=false)",
        ],
        problems=problems,
    )


def holds(fx: Fixtures, timing: uploads.Timing, window: uploads.Window) -> tuple[WrkResult, Assessment]:
    return asyncio.run(_holds(fx.port, timing, window))
