"""Bursts queue, they do not fail: requests arriving together wait for a Redis connection (up to
`[redis] pool_timeout_seconds`) instead of answering 503 when the pool is momentarily empty.

Both tests send the same 300 requests at once (sign-ins, seat holds, gate scans, slot bookings)
to an app whose Redis pool is tiny (4 connections), with rate limits on (one Redis round trip
per request) but never tripping. Waiting, none is answered >= 500; the negative control, a pool
that does not wait (`pool_timeout_seconds = 0`, what the service had), fails some of them.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, timedelta
from typing import Any

import asyncpg

from bayaffairs.handlers.keys import SERVICES
from tests.appointments.conftest import COMMERCIAL, HENGQIN, TOMORROW, at
from tests.conftest import AppFactory
from tests.support import Api, MovableClock, test_config
from tests.travel.conftest import HKID, hkid_number, signed_in_with_wallet

EACH = 75  # of the four kinds: 300 requests
NEVER_TRIPS = {"auth": "100000/60", "read": "100000/60", "write": "100000/60", "scan": "100000/60"}


def burst_config(pool_timeout_seconds: float) -> Any:
    return test_config(
        {
            "redis": {"max_connections": 4, "pool_timeout_seconds": pool_timeout_seconds},
            "rate_limits": NEVER_TRIPS,
        }
    )


async def burst(api: Api, clock: MovableClock, pg: asyncpg.Connection) -> Counter[int]:
    """Prepare riders, documents, codes and a gate one by one, then send the 300 at once."""
    services = api.client.server.app[SERVICES]
    for issuer in ("tickets", "ride_codes", "appointments"):
        await services.transit.issuer_keys.rotate(issuer)
    riders = [await signed_in_with_wallet(api, f"burst-{i}") for i in range(EACH // 5)]
    own: list[str] = []  # each rider's Macao ID: the appointments' service has a quota per person
    for i, rider in enumerate(riders):
        status, _ = await rider.post("/v1/me/consents", {"destination": "CN", "purpose": "appointment"})
        assert status == 201
        macao_id = {"type": "macao_id", "holder_name": f"R {i}", "number": f"5{i:06d}(3)", "issuing": "MO"}
        status, body = await rider.post("/v1/me/documents", {**macao_id, "expires": HKID["expires"]})
        assert status == 201, body
        own.append(body["id"])
    documents: list[tuple[Api, str]] = []
    codes: list[str] = []
    for n in range(EACH):
        rider = riders[n // 5]
        status, body = await rider.post(
            "/v1/me/documents", {**HKID, "number": hkid_number(500 + n), "holder_name": f"P {n}"}
        )
        assert status == 201, body
        documents.append((rider, body["id"]))
        status, body = await rider.post("/v1/ride-codes", {"city": "shenzhen"})
        assert status == 201, body
        codes.append(body["payload"])
    departure = await pg.fetchval(
        "SELECT id FROM travel_departures WHERE carrier = 'hzmb_bus' AND route = 'hk_macao'"
        " AND departs_at > $1 ORDER BY departs_at LIMIT 1",
        clock.now() + timedelta(hours=3),
    )
    gate = api.as_((await services.credentials.issue("gate", "shenzhen_bus")).token)
    station = services.transit.network.operators["shenzhen_bus"].info.stops[0].id
    scanned_at = clock.now().astimezone(UTC).isoformat()

    requests = [
        *(api.post("/v1/auth/sessions", {"provider": "dev", "code": f"arrival-{n}"}) for n in range(EACH)),
        *(
            who.post(
                "/v1/travel/bookings",
                {"departure_id": departure, "fare_class": "standard", "passengers": [{"document_id": d}]},
            )
            for who, d in documents
        ),
        *(
            gate.post(
                "/v1/gate/scans",
                {
                    "payload": code,
                    "gate_id": f"g{n}",
                    "station": station,
                    "direction": "in",
                    "scanned_at": scanned_at,
                },
            )
            for n, code in enumerate(codes)
        ),
        *(
            riders[n % len(riders)].post(
                "/v1/appointments",
                {
                    "centre_id": HENGQIN,
                    "service_id": COMMERCIAL,
                    "start": at(TOMORROW, "10:00"),
                    "document_id": own[n % len(riders)],
                },
            )
            for n in range(EACH)
        ),
    ]
    answers = await asyncio.gather(*requests)
    return Counter(status for status, _ in answers)


async def test_300_concurrent_mixed_requests_on_a_tiny_redis_pool_get_no_server_error(
    make_api: AppFactory, clock: MovableClock, pg: asyncpg.Connection
) -> None:
    api = await make_api(burst_config(pool_timeout_seconds=10))
    statuses = await burst(api, clock, pg)
    assert sum(statuses.values()) == 4 * EACH
    assert {s: n for s, n in statuses.items() if s >= 500} == {}, statuses
    assert statuses[201] >= EACH  # control: the burst did work (sign-ins, holds, bookings)
    assert statuses[200] == EACH  # every scan answered (open or deny)


async def test_control_a_pool_that_does_not_wait_fails_the_same_burst(
    make_api: AppFactory, clock: MovableClock, pg: asyncpg.Connection
) -> None:
    api = await make_api(burst_config(pool_timeout_seconds=0))
    statuses = await burst(api, clock, pg)
    assert statuses[503] > 0, statuses
