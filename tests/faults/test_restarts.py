"""Faults with real servers: PostgreSQL and Redis stopped and started under load.

Each test runs the app on a private PostgreSQL and a private Redis (tests/faults/conftest.py),
keeps gate scans and seat holds coming (and /readyz polled) while it stops one server (PostgreSQL
both cleanly and as a crash), leaves it down a second, and starts it again. Gates retry a tap
that got no decision with the same `tap_id`, riders retry a hold with the same Idempotency-Key,
as real clients do; after the load, whatever is still unanswered is retried until it is.

What must hold (README, "Failure modes"):
- PostgreSQL down: every request answers 503 `service_unavailable` in the JSON error shape,
  never 500; `/readyz` is 503; within 5 s of the server accepting connections again `/readyz` is
  200 and requests succeed; every `open` and every `held` answered has its row.
- Redis down: gates keep opening (online scans do not need Redis); rate-limited routes answer 503
  (fail closed: without the shared counters no limit holds), nothing written; authentication
  still works without its failure limit; Idempotency-Key records live in PostgreSQL, so a hold
  refused during the outage and retried with its key afterwards is held once; no 500.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from typing import Any

import asyncpg
import pytest

from bayaffairs.config import Config
from bayaffairs.handlers.keys import SERVICES
from tests.faults.conftest import Servers
from tests.support import START, Api
from tests.travel.conftest import HKID, hkid_number, signed_in_with_wallet

NEVER_TRIPS = {"auth": "100000/60", "read": "100000/60", "write": "100000/60", "scan": "0/1"}
OVERRIDES: dict[str, Any] = {
    "rate_limits": {**NEVER_TRIPS, "admin": "5/3600"},
    "travel": {"max_active_holds": 1000},
    # A hold whose first try died with the database mid-request keeps its key in flight until
    # the lease ends (409 idempotency_key_in_use meanwhile); the shortest lease lets the
    # retries take it over before the recovery the test watches.
    "idempotency": {"lease_seconds": 1},
}
RIDERS = 6
DOCUMENTS_PER_RIDER = 8
DEPARTURES = 3
CODES = 150
PACE = 0.02  # seconds each load task waits between its requests
SCANNED_AT = START.astimezone(UTC).isoformat()  # the app's clock decides an online tap's time
RECOVERY_LIMIT = 5.0  # seconds from "accepts connections" to /readyz 200 (issue 14, item 7)


@dataclass
class Answer:
    kind: str
    status: int
    body: Any
    sent: float
    answered: float


@dataclass
class Tap:
    code: str
    tap_id: str


@dataclass
class Hold:
    rider: Api
    body: dict[str, Any]
    key: str


@dataclass
class World:
    api: Api
    config: Config
    gate: Api
    station: str
    taps: deque[Tap]
    holds: deque[Hold]
    admin: Api


@dataclass
class Load:
    """Scans, holds and readiness checks sent until `stop`, each answer kept with its times."""

    world: World
    answers: list[Answer] = field(default_factory=list)
    retry_taps: deque[Tap] = field(default_factory=deque)
    retry_holds: deque[Hold] = field(default_factory=deque)
    sent_taps: set[str] = field(default_factory=set)
    sent_holds: set[str] = field(default_factory=set)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(self, kind: str, request: Awaitable[tuple[int, Any]]) -> Answer:
        sent = time.monotonic()
        status, body = await request
        answer = Answer(kind, status, body, sent, time.monotonic())
        self.answers.append(answer)
        return answer

    def scan(self, tap: Tap, gate: Api | None = None) -> Awaitable[tuple[int, Any]]:
        return (gate or self.world.gate).post(
            "/v1/gate/scans",
            {
                "payload": tap.code,
                "gate_id": "g1",
                "station": self.world.station,
                "direction": "in",
                "scanned_at": SCANNED_AT,
                "tap_id": tap.tap_id,
            },
        )

    def hold(self, hold: Hold) -> Awaitable[tuple[int, Any]]:
        return hold.rider.post("/v1/travel/bookings", hold.body, headers={"Idempotency-Key": hold.key})

    async def scanner(self) -> None:
        while not self.stop.is_set():
            queue = self.world.taps if self.world.taps else self.retry_taps
            if not queue:
                await asyncio.sleep(PACE)
                continue
            tap = queue.popleft()
            self.sent_taps.add(tap.tap_id)
            answer = await self.send("scan", self.scan(tap))
            if answer.status != 200:
                self.retry_taps.append(tap)
            await asyncio.sleep(PACE)

    async def holder(self) -> None:
        while not self.stop.is_set():
            queue = self.world.holds if self.world.holds else self.retry_holds
            if not queue:
                await asyncio.sleep(PACE)
                continue
            hold = queue.popleft()
            self.sent_holds.add(hold.key)
            answer = await self.send("hold", self.hold(hold))
            if answer.status != 201:
                self.retry_holds.append(hold)
            await asyncio.sleep(PACE)

    async def readiness(self) -> None:
        while not self.stop.is_set():
            await self.send("readyz", self.world.api.get("/readyz"))
            await asyncio.sleep(PACE)

    def tasks(self) -> list[asyncio.Task[None]]:
        return [
            asyncio.create_task(job())
            for job in (self.scanner, self.scanner, self.holder, self.holder, self.readiness)
        ]

    async def finish(self, tasks: list[asyncio.Task[None]]) -> None:
        """Stop the load, then retry what got no decision until each is answered (bounded;
        eight at a time, as gates and riders retry on their own)."""
        self.stop.set()
        await asyncio.gather(*tasks)
        deadline = time.monotonic() + 20
        turns = asyncio.Semaphore(8)

        async def retry(kind: str, request: Callable[[], Awaitable[tuple[int, Any]]], done: int) -> None:
            while True:
                async with turns:
                    answer = await self.send(kind, request())
                if answer.status == done:
                    return
                assert time.monotonic() < deadline, f"still no decision: {(kind, answer.status, answer.body)}"
                await asyncio.sleep(0.25 if answer.status == 409 else PACE)  # 409: a key in flight

        taps, holds = list(self.retry_taps), list(self.retry_holds)
        self.retry_taps.clear()
        self.retry_holds.clear()
        await asyncio.gather(
            *(retry("scan", functools.partial(self.scan, tap), 200) for tap in taps),
            *(retry("hold", functools.partial(self.hold, hold), 201) for hold in holds),
        )

    def between(self, start: float, end: float, kind: str | None = None) -> list[Answer]:
        """Answers to requests sent and answered within [start, end]."""
        return [
            a
            for a in self.answers
            if start <= a.sent and a.answered <= end and (kind is None or a.kind == kind)
        ]


async def world(make_fault_api: Callable[..., Awaitable[tuple[Api, Config]]]) -> World:
    """Riders with wallets and documents, ride codes, a gate and departures, made before the load."""
    api, config = await make_fault_api(OVERRIDES)
    pg_url = config.settings.database.url
    services = api.client.server.app[SERVICES]
    for issuer in ("tickets", "ride_codes"):
        await services.transit.issuer_keys.rotate(issuer)
    riders = list(await asyncio.gather(*(signed_in_with_wallet(api, f"fault-{n}") for n in range(RIDERS))))

    async def papers(n: int, rider: Api) -> list[tuple[Api, str]]:
        status, body = await rider.post("/v1/me/consents", {"destination": "MO", "purpose": "travel_booking"})
        assert status == 201, body
        made = []
        for d in range(DOCUMENTS_PER_RIDER):
            number = hkid_number(700 + n * DOCUMENTS_PER_RIDER + d)
            status, body = await rider.post(
                "/v1/me/documents", {**HKID, "number": number, "holder_name": f"P {n} {d}"}
            )
            assert status == 201, body
            made.append((rider, body["id"]))
        return made

    async def code(n: int) -> Tap:
        status, body = await riders[n % RIDERS].post("/v1/ride-codes", {"city": "shenzhen"})
        assert status == 201, body
        return Tap(body["payload"], f"t{n}")

    documents = [d for made in await asyncio.gather(*map(papers, range(RIDERS), riders)) for d in made]
    taps = deque(await asyncio.gather(*map(code, range(CODES))))
    conn = await asyncpg.connect(pg_url)
    try:
        departures = [
            r["id"]
            for r in await conn.fetch(
                "SELECT id FROM travel_departures WHERE carrier = 'hzmb_bus' AND route = 'hk_macao'"
                " AND departs_at > $1 ORDER BY departs_at LIMIT $2",
                START + timedelta(hours=3),
                DEPARTURES,
            )
        ]
    finally:
        await conn.close()
    assert len(departures) == DEPARTURES
    holds = deque(
        Hold(
            rider,
            {"departure_id": departure, "fare_class": "standard", "passengers": [{"document_id": doc}]},
            f"hold-{n}-{departure}",
        )
        for departure in departures
        for n, (rider, doc) in enumerate(documents)
    )
    gate = api.as_((await services.credentials.issue("gate", "shenzhen_bus")).token)
    admin = api.as_((await services.credentials.issue("admin", "all")).token)
    station = services.transit.network.operators["shenzhen_bus"].info.stops[0].id
    return World(api, config, gate, station, taps, holds, admin)


def assert_unavailable(answer: Answer) -> None:
    """503 in the contract's error shape, code service_unavailable."""
    assert answer.status == 503, (answer.kind, answer.status, answer.body)
    error = answer.body["error"]
    assert error["code"] == "service_unavailable", answer.body
    assert isinstance(error["message"], str) and error["message"], answer.body
    assert isinstance(error["details"], dict), answer.body
    assert error["request_id"], answer.body


async def readyz_recovery(api: Api, since: float) -> float:
    """Seconds from `since` (the server accepting connections again) to /readyz answering 200."""
    deadline = since + 30
    while time.monotonic() < deadline:
        status, _ = await api.get("/readyz")
        if status == 200:
            return time.monotonic() - since
        await asyncio.sleep(0.02)
    raise AssertionError("/readyz not 200 within 30 s of the restart")


async def accepting(check: Callable[[], Awaitable[bool]]) -> float:
    """Poll until the server accepts connections; the moment it did (monotonic)."""
    deadline = time.monotonic() + 60
    while not await check():
        assert time.monotonic() < deadline, "the server did not accept connections within 60 s"
        await asyncio.sleep(0.01)
    return time.monotonic()


async def rows(pg_url: str, sql: str, ids: list[str]) -> dict[str, str]:
    conn = await asyncpg.connect(pg_url)
    try:
        return {r[0]: r[1] for r in await conn.fetch(sql, ids)}
    finally:
        await conn.close()


def summary(load: Load) -> str:
    counts = Counter(f"{a.kind} {a.status}" for a in load.answers)
    return ", ".join(f"{k}: {n}" for k, n in sorted(counts.items()))


def final(load: Load, kind: str, status: int) -> list[Answer]:
    return [a for a in load.answers if a.kind == kind and a.status == status]


def assert_no_server_error_but_503(load: Load) -> None:
    statuses = Counter((a.kind, a.status) for a in load.answers)
    assert {s for _, s in statuses} <= {200, 201, 409, 503}, statuses
    for answer in load.answers:
        if answer.status == 503:
            assert_unavailable(answer)
        if answer.status == 409:  # only a hold retried while its first try's key was in flight
            assert (answer.kind, answer.body["error"]["code"]) == ("hold", "idempotency_key_in_use")


@pytest.mark.parametrize("stop", ["fast", "immediate"])  # a clean shutdown; a crash (WAL recovery)
async def test_postgres_restarted_under_scans_and_holds(
    make_fault_api: Any, servers: Servers, stop: str
) -> None:
    w = await world(make_fault_api)
    pg_url = w.config.settings.database.url
    load = Load(w)
    tasks = load.tasks()
    await asyncio.sleep(0.3)  # the load before the fault

    await servers.postgres.stop(stop)
    stopped = time.monotonic()
    await asyncio.sleep(1.0)  # the outage, under load
    starting = time.monotonic()
    start = asyncio.create_task(servers.postgres.start())
    accepted = await accepting(servers.postgres.accepts)
    recovery = await readyz_recovery(w.api, accepted)
    ready = accepted + recovery
    await start
    print(f"\nPostgreSQL restart ({stop} stop): /readyz 200 {recovery:.2f} s after it accepted connections")
    await asyncio.sleep(0.5)  # the load goes on after the recovery
    await load.finish(tasks)
    print(f"answers: {summary(load)}")

    assert_no_server_error_but_503(load)
    down = load.between(stopped, starting)
    for kind in ("scan", "hold", "readyz"):
        assert any(a.kind == kind for a in down), f"no {kind} was sent while PostgreSQL was down"
    for answer in down:
        assert_unavailable(answer)
    assert recovery < RECOVERY_LIMIT, f"/readyz took {recovery:.2f} s to recover"
    after = [a for a in load.answers if a.sent >= ready + 0.1]
    assert [(a.kind, a.status, a.body) for a in after if a.status >= 300] == []
    assert {a.kind for a in after} >= {"scan", "hold", "readyz"}

    opened = final(load, "scan", 200)
    assert [a.body for a in opened if a.body["decision"] != "open"] == []
    assert len(opened) == len(load.sent_taps)  # every tap sent got its decision in the end
    journey_ids = sorted({a.body["journey_id"] for a in opened})
    found = await rows(pg_url, "SELECT id, status FROM journeys WHERE id = ANY($1)", journey_ids)
    assert sorted(found) == journey_ids, "an open answered without its journey"
    held = final(load, "hold", 201)
    assert len(held) == len(load.sent_holds)  # every hold sent was held in the end
    booking_ids = sorted(a.body["id"] for a in held)
    assert len(set(booking_ids)) == len(booking_ids)
    found = await rows(pg_url, "SELECT id, status FROM travel_bookings WHERE id = ANY($1)", booking_ids)
    assert found == dict.fromkeys(booking_ids, "held"), "a hold answered without its booking"


async def test_redis_restarted_under_scans_and_holds(make_fault_api: Any, servers: Servers) -> None:
    w = await world(make_fault_api)
    pg_url = w.config.settings.database.url
    services = w.api.client.server.app[SERVICES]
    load = Load(w)
    tasks = load.tasks()
    await asyncio.sleep(0.3)  # the load before the fault

    await servers.redis.stop()
    stopped = time.monotonic()
    # A gate whose token this worker has not seen yet: authenticated without its failure limit.
    new_gate = w.api.as_((await services.credentials.issue("gate", "shenzhen_bus")).token)
    new_gate_tap = w.taps.pop()
    new_gate_answer = await load.send("scan", load.scan(new_gate_tap, new_gate))
    rider, first_hold = w.holds[0].rider, w.holds.pop()
    refused_hold = await load.send("hold", load.hold(first_hold))
    refused = {
        "sign-in": await w.api.post("/v1/auth/sessions", {"provider": "dev", "code": "fault-new"}),
        "read": await rider.get("/v1/me"),
        "admin": await w.admin.get("/v1/admin/audit"),
    }
    await asyncio.sleep(1.0)  # the outage, under load
    starting = time.monotonic()
    await servers.redis.start()
    accepted = await accepting(servers.redis.accepts)
    recovery = await readyz_recovery(w.api, accepted)
    ready = accepted + recovery
    print(f"\nRedis restart: /readyz 200 {recovery:.2f} s after the server accepted connections")
    await asyncio.sleep(0.5)  # the load goes on after the recovery
    await load.finish(tasks)
    print(f"answers: {summary(load)}")

    assert_no_server_error_but_503(load)
    # Gates kept opening: no scan ever waited for Redis.
    scans = [a for a in load.answers if a.kind == "scan"]
    assert [(a.status, a.body) for a in scans if a.status != 200 or a.body["decision"] != "open"] == []
    assert new_gate_answer.status == 200 and new_gate_answer.body["decision"] == "open"
    assert any(stopped <= a.sent and a.answered <= starting for a in scans)
    # Rate-limited routes fail closed while it is down: 503, nothing written.
    down = load.between(stopped, starting)
    assert any(a.kind == "hold" for a in down) and any(a.kind == "readyz" for a in down)
    for answer in [a for a in down if a.kind != "scan"]:
        assert_unavailable(answer)
    for answer in [a for a in down if a.kind == "readyz"]:
        assert answer.body["error"]["details"]["checks"]["redis"].startswith("down"), answer.body
    assert_unavailable(refused_hold)
    for what, (status, body) in refused.items():
        assert status == 503, (what, body)
        assert body["error"]["code"] == "service_unavailable", (what, body)
    assert recovery < RECOVERY_LIMIT, f"/readyz took {recovery:.2f} s to recover"
    after = [a for a in load.answers if a.sent >= ready + 0.1]
    assert [(a.kind, a.status, a.body) for a in after if a.status >= 300] == []
    assert {a.kind for a in after} >= {"scan", "hold", "readyz"}

    # Idempotency lives in PostgreSQL: the hold refused during the outage kept nothing, so its
    # retry with the same key is held once, and replayed after that.
    status, body = await load.hold(first_hold)
    assert status == 201, body
    assert await load.hold(first_hold) == (status, body)
    # Rate limits count again (from zero: their windows went with Redis): admin is 5 an hour (a
    # window boundary, on the wall clock, is then unlikely to fall between these six).
    statuses = [(await w.admin.get("/v1/admin/audit"))[0] for _ in range(6)]
    assert statuses == [200] * 5 + [429]

    opened = final(load, "scan", 200)
    journey_ids = sorted({a.body["journey_id"] for a in opened})
    found = await rows(pg_url, "SELECT id, status FROM journeys WHERE id = ANY($1)", journey_ids)
    assert sorted(found) == journey_ids, "an open answered without its journey"
    booking_ids = sorted([a.body["id"] for a in final(load, "hold", 201)] + [body["id"]])
    assert len(held := set(booking_ids)) == len(booking_ids)
    found = await rows(pg_url, "SELECT id, status FROM travel_bookings WHERE id = ANY($1)", booking_ids)
    assert found == dict.fromkeys(held, "held"), "a hold answered without its booking"
    assert len(final(load, "hold", 201)) == len(load.sent_holds)  # every hold sent was held in the end
