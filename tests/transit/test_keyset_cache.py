"""The verifying keys a worker caches must not hide a key made after the cache was filled by a
job that had nothing to verify (the offline-tap drain runs from the start of the app)."""

from __future__ import annotations

from datetime import UTC, datetime

from bayaffairs.handlers.keys import SERVICES
from tests.conftest import AppFactory
from tests.support import MovableClock


async def test_a_drain_with_nothing_to_do_does_not_cache_the_keys(
    make_api: AppFactory, clock: MovableClock
) -> None:
    clock.set(datetime(2071, 3, 3, 8, 30, tzinfo=UTC))
    api = await make_api()
    services = api.client.server.app[SERVICES]
    assert await services.transit.uploads.drain(settle_seconds=0) == 0  # before any key exists
    await services.transit.issuer_keys.rotate("ride_codes")
    rider = await api.sign_in("rider-one")
    assert (await rider.put("/v1/me/wallet", {"currency": "HKD", "provider": "demo"}))[0] == 200
    status, code = await rider.post("/v1/ride-codes", {"city": "shenzhen"})
    assert status == 201
    gate = api.as_((await services.credentials.issue("gate", "shenzhen_metro")).token)
    stop = services.transit.network.operators["shenzhen_metro"].info.stops[0].id
    body = {
        "payload": code["payload"],
        "gate_id": "g1",
        "station": stop,
        "direction": "in",
        "scanned_at": clock.now().isoformat(),
    }
    status, answer = await gate.post("/v1/gate/scans", body)
    assert (status, answer["decision"], answer["reason"]) == (200, "open", None)
