"""Appointment scenarios: the counter's pull of a busy centre-day, and bookings on hot slots.

- `counter_day`: GET /v1/counter/appointments?date= of a centre-day holding 2,000 appointments
  (seeded straight into the bench database), as a counter credential, with Accept-Encoding: gzip
  as a counter's client sends it: the kept gzip form (~38 KB instead of ~0.7 MB).
- `counter_day_identity`: the same without Accept-Encoding: the plain ~0.7 MB body.
- `counter_day_304`: `counter_day` with the ETag of that list in If-None-Match: the centre's
  change number, kept in the worker while it listens to its NOTIFYs, then 304.
- `hot_slot`: a Python driver. Round after round, 64 riders at once try to book the same slot
  at the Hengqin centre, half of them commercial registration (desks A1, A2, A4), half social
  insurance (A3, A4): the four desks give 4 x 201, the rest 409 slot_full. The row's rate is
  booking attempts per second. 409 slot_full is the expected refusal, so only other answers
  (another status, or a 409 with another code) count as non-2xx and are flagged; after the run
  the database is checked, per desk: two active appointments on one desk at overlapping times,
  more people at one instant than the centre has desks, or an appointment on a desk that does not
  serve its service are overbooking (must be zero).
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from datetime import UTC, date, datetime, timedelta

import aiohttp
import asyncpg

from bayaffairs.errors import DomainError
from bayaffairs.wiring.root import assembled
from bench import uploads
from bench.service import Fixtures, Variant, bench_database_url
from bench.transit import Assessment, bench_config
from bench.wrk import Request, WrkResult

CENTRE = "hengqin_gasc"
SERVICE = "mo_commercial_registration"
SHARING = "mo_social_insurance"  # shares desk A4 with SERVICE
LIMITS = {SERVICE: 2, SHARING: 1}  # per rider (config/jurisdictions/macao.toml)
DESKS = {"A1": {SERVICE}, "A2": {SERVICE}, "A3": {SHARING}, "A4": {SERVICE, SHARING}}  # of these two
DAY = date(2027, 3, 2)  # a Tuesday; the seeded day of the pull
APPOINTMENTS = 2000
CONCURRENCY = 64
RIDERS = 400
BOOKED, SLOT_FULL = "201", "409 slot_full"  # the two answers a hot slot gives
GZIP = "gzip, deflate"  # what a counter's client (a browser, aiohttp, requests) sends
# 400 riders sign in from one address: the auth limit (30/60) off for this server.
MANY_RIDERS = Variant("many-riders", {"BAYAFFAIRS_RATE_LIMITS_AUTH": "0/1"})


async def _seed_day() -> None:
    """2,000 appointments on DAY (idempotent: the bench rows are replaced). No centre has the
    desks for that many; each row gets a desk of its own (BENCH0001...), which the database's
    one-per-desk rule accepts: the scenario measures the counter's pull, not booking."""
    conn = await asyncpg.connect(bench_database_url())
    try:
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO users (id, display_name, category, created_at, updated_at)"
                " VALUES ('usr_bench_counter', 'Bench', 'adult', now(), now()) ON CONFLICT DO NOTHING"
            )
            await conn.execute("DELETE FROM appointments WHERE id LIKE 'apt_BENCHDAY%'")
            base = datetime(2027, 3, 2, 1, 0, tzinfo=UTC)
            rows = [
                (
                    f"apt_BENCHDAY{i:018d}",
                    f"BD-{i:06d}",
                    base + timedelta(seconds=i),
                    base + timedelta(seconds=i, minutes=30),
                    f"Applicant {i}",
                    f"M*****{i % 10}",
                    i + 1,
                )
                for i in range(APPOINTMENTS)
            ]
            await conn.executemany(
                """INSERT INTO appointments (id, reference, user_id, agency_id, centre_id, service_id,
                    starts_at, ends_at, local_date, counter_id, status, holder_name, number_masked,
                    created_at, updated_at, change_seq)
                VALUES ($1, $2, 'usr_bench_counter', 'macao_hengqin_services', $8, $9, $3, $4, $10,
                    'BENCH' || $7::bigint, 'booked', $5, $6, now(), now(), $7::bigint)""",
                [(*r, CENTRE, SERVICE, DAY) for r in rows],
            )
            await conn.execute(
                "INSERT INTO appointment_centre_changes (centre_id, seq) VALUES ($1, $2)"
                " ON CONFLICT (centre_id) DO UPDATE SET seq = greatest(appointment_centre_changes.seq, $2)",
                CENTRE,
                APPOINTMENTS,
            )
    finally:
        await conn.close()


async def _counter_token() -> str:
    async with assembled(bench_config(), scopes=lambda kind: {CENTRE}) as wiring:
        return (await wiring.services.credentials.issue("counter", CENTRE)).token


async def _appointments_key() -> None:
    async with assembled(bench_config()) as wiring:
        keys = wiring.services.transit.issuer_keys
        try:
            await keys.signing_key("appointments")
        except DomainError:
            await keys.rotate("appointments")


@functools.cache
def _prepared() -> str:
    asyncio.run(_seed_day())
    return asyncio.run(_counter_token())


def counter_day_identity(fx: Fixtures) -> Request:
    return Request(
        "GET", f"/v1/counter/appointments?date={DAY.isoformat()}", {"Authorization": f"Bearer {_prepared()}"}
    )


def counter_day(fx: Fixtures) -> Request:
    """As a counter's client asks: it takes gzip (browsers and HTTP libraries send this)."""
    request = counter_day_identity(fx)
    return Request(request.method, request.path, {**request.headers, "Accept-Encoding": GZIP})


def counter_day_304(fx: Fixtures) -> Request:
    request = counter_day(fx)
    conn = __import__("http.client").client.HTTPConnection("127.0.0.1", fx.port, timeout=10)
    try:
        conn.request("GET", request.path, headers=dict(request.headers))
        response = conn.getresponse()
        response.read()
        etag = response.headers["ETag"]
    finally:
        conn.close()
    return Request("GET", request.path, {**request.headers, "If-None-Match": etag})


def counter_day_figures(fx: Fixtures, result: WrkResult) -> Assessment:
    return Assessment(figures={"appointments_per_answer": float(APPOINTMENTS)})


# -- hot slots --------------------------------------------------------------------------------


async def own_macao_id(session: aiohttp.ClientSession, base: str, auth: dict[str, str], person: int) -> str:
    """A Macao ID of the rider's own, `person` (under a million) making the number: the services
    with a quota need the applicant's document, and each rider is a person of their own."""
    body = {
        "type": "macao_id",
        "holder_name": f"BENCH Rider {person}",
        "number": f"5{person % 1_000_000:06d}(0)",
        "issuing": "MO",
        "expires": (datetime.now(UTC).date() + timedelta(days=3650)).isoformat(),
    }
    async with session.post(f"{base}/v1/me/documents", json=body, headers=auth) as r:
        document = await r.json()
        assert r.status == 201, document
    return str(document["id"])


async def _riders(session: aiohttp.ClientSession, base: str, run: str) -> dict[str, str]:
    """Riders' tokens, each with the id of the rider's own Macao ID."""

    async def one(i: int) -> tuple[str, str]:
        async with session.post(
            f"{base}/v1/auth/sessions", json={"provider": "dev", "code": f"hot-{run}-{i}"}
        ) as r:
            token = (await r.json())["token"]
        auth = {"Authorization": f"Bearer {token}"}
        async with session.post(
            f"{base}/v1/me/consents", json={"destination": "CN", "purpose": "appointment"}, headers=auth
        ) as r:
            assert r.status in (200, 201), await r.text()
        return token, await own_macao_id(session, base, auth, int(run) % 1000 * 1000 + i)

    return dict(await asyncio.gather(*(one(i) for i in range(RIDERS))))


async def _slot_starts(session: aiohttp.ClientSession, base: str) -> list[str]:
    """Starts where both services have every able desk free."""
    today = datetime.now(UTC).date()
    first = (today + timedelta(days=1)).isoformat()
    free = []
    for service in (SERVICE, SHARING):
        url = f"{base}/v1/centres/{CENTRE}/slots?service={service}&from={first}&days=60"
        async with session.get(url) as r:
            items = (await r.json())["items"]
        free.append({s["start"] for s in items if s["remaining"] == s["capacity"]})
    return sorted(free[0] & free[1])


async def _hot(port: int, timing: uploads.Timing, window: uploads.Window) -> tuple[WrkResult, Assessment]:
    await _appointments_key()
    base = f"http://127.0.0.1:{port}"
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector) as session:
        documents = await _riders(session, base, str(int(time.time())))
        tokens = list(documents)
        starts = await _slot_starts(session, base)
        held = dict.fromkeys(tokens, 0)
        latencies: list[float] = []
        statuses: dict[str, int] = {}  # "201", "409 slot_full", ...

        async def attempt(token: str, start: str, service: str) -> None:
            began = time.perf_counter()
            async with session.post(
                f"{base}/v1/appointments",
                json={
                    "centre_id": CENTRE,
                    "service_id": service,
                    "start": start,
                    "document_id": documents[token],
                },
                headers={"Authorization": f"Bearer {token}"},
            ) as r:
                answer = await r.read()
                outcome = str(r.status)
                if r.status >= 400:
                    try:
                        outcome += f" {json.loads(answer)['error']['code']}"
                    except (ValueError, KeyError, TypeError):
                        outcome += " (no error code)"
                statuses[outcome] = statuses.get(outcome, 0) + 1
                if r.status == 201:
                    held[token] += 1
            latencies.append((time.perf_counter() - began) * 1000)

        async def rounds(seconds: float) -> int:
            done = 0
            end = time.monotonic() + seconds
            while time.monotonic() < end and starts:
                start = starts.pop(0)
                # Each rider books one service, within its per-rider limit (2 and 1).
                racing = [
                    (t, service)
                    for service, pool in ((SERVICE, tokens[::2]), (SHARING, tokens[1::2]))
                    for t in [t for t in pool if held[t] < LIMITS[service]][: CONCURRENCY // 2]
                ]
                if len(racing) < CONCURRENCY:
                    break
                await asyncio.gather(*(attempt(t, start, service) for t, service in racing))
                done += len(racing)
            return done

        await rounds(timing.warmup)
        latencies.clear()
        statuses.clear()
        with window():
            began = time.monotonic()
            attempts = await rounds(timing.duration)
            seconds = time.monotonic() - began
    over = await _check()
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else 0.0  # noqa: E731
    booked, full = statuses.get(BOOKED, 0), statuses.get(SLOT_FULL, 0)
    unexpected = {s: n for s, n in statuses.items() if s not in (BOOKED, SLOT_FULL)}
    result = WrkResult(
        requests_per_second=attempts / seconds if seconds else 0.0,
        p50_ms=pick(0.50),
        p99_ms=pick(0.99),
        requests=attempts,
        non_2xx=sum(unexpected.values()),  # the expected refusals are no errors
        socket_errors={},
        counters={f"status_{s.replace(' ', '_')}": n for s, n in statuses.items()},
        seconds=seconds,
    )
    problems = []
    if over:
        problems.append(f"{over} overbookings of desks")
    if unexpected:
        problems.append(f"unexpected answers {json.dumps(unexpected)}")
    return result, Assessment(
        figures={
            "booked_201": float(booked),
            "slot_full_409": float(full),
            "overbooked_slots": float(over),
        },
        notes=[
            f"{booked} booked (201), {full} refused as expected (409 slot_full), "
            f"{sum(unexpected.values())} other answers; {over} overbookings of desks"
        ],
        problems=problems,
    )


def _booked(t: str) -> str:
    """SQL: row `t` is an active appointment the benchmark booked (not a seeded one)."""
    return f"{t}.status IN ('booked', 'checked_in', 'called') AND {t}.id NOT LIKE 'apt_BENCHDAY%'"


async def _check() -> int:
    """Overbookings per desk among the booked (not seeded) appointments: pairs on one desk at
    overlapping times, instants with more people than desks, people on a desk not serving them."""
    conn = await asyncpg.connect(bench_database_url())
    try:
        same_desk = await conn.fetchval(
            f"""SELECT count(*) FROM appointments a JOIN appointments b
                ON a.centre_id = b.centre_id AND a.counter_id = b.counter_id AND a.id < b.id
                AND tstzrange(a.starts_at, a.ends_at) && tstzrange(b.starts_at, b.ends_at)
                WHERE {_booked("a")} AND {_booked("b")}"""
        )
        crowded = await conn.fetchval(
            f"""SELECT count(*) FROM (SELECT 1 FROM appointments a JOIN appointments b
                ON b.centre_id = a.centre_id AND b.starts_at <= a.starts_at AND b.ends_at > a.starts_at
                WHERE a.centre_id = $1 AND {_booked("a")} AND {_booked("b")}
                GROUP BY a.id HAVING count(*) > $2) x""",
            CENTRE,
            len(DESKS),
        )
        desks = await conn.fetch(f"SELECT service_id, counter_id FROM appointments a WHERE {_booked('a')}")
        wrong = sum(1 for r in desks if r["service_id"] not in DESKS.get(r["counter_id"], ()))
        return int(same_desk) + int(crowded) + wrong
    finally:
        await conn.close()


def hot_slot(fx: Fixtures, timing: uploads.Timing, window: uploads.Window) -> tuple[WrkResult, Assessment]:
    return asyncio.run(_hot(fx.port, timing, window))
