"""A flood of bad bearer tokens costs neither the database nor other clients.

Each failed authentication counts against the client's `auth` rate limit (the one sign-ins use);
a client over it gets 429 before its token is looked up. An unknown credential id is remembered
for `[auth] negative_cache_seconds`, so the same made-up id is read once. The clients here are
told apart by X-Forwarded-For from a trusted proxy (127.0.0.1, the test client).
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import pytest

from bayaffairs import credentials as credentials_module
from bayaffairs.errors import Unauthenticated
from bayaffairs.handlers.keys import SERVICES
from tests.conftest import AppFactory
from tests.support import Api, MovableClock, test_config

FIVE_FAILURES = {"server": {"trusted_proxies": ["127.0.0.1"]}, "rate_limits": {"auth": "5/60"}}
CLIENT_A, CLIENT_B = {"X-Forwarded-For": "198.51.100.1"}, {"X-Forwarded-For": "198.51.100.2"}


def _made_up(credential_id: str | None = None) -> str:
    return f"bya.{credential_id or 'crd_' + secrets.token_hex(8)}.{secrets.token_urlsafe(32)}"


def _counting_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every credential read that reaches PostgreSQL (the real query, counted)."""
    reads: list[str] = []
    real_get = credentials_module.q.get

    async def get(conn: Any, credential_id: str) -> Any:
        reads.append(credential_id)
        return await real_get(conn, credential_id)

    monkeypatch.setattr(credentials_module.q, "get", get)
    return reads


async def _whoami(api: Api, token: str, client: dict[str, str]) -> tuple[int, Any]:
    return await api.as_(token).get("/v1/auth/whoami", headers=client)


async def test_failed_authentication_counts_against_the_clients_auth_limit(make_api: AppFactory) -> None:
    api = await make_api(test_config(FIVE_FAILURES))
    answers = [await _whoami(api, _made_up(), CLIENT_A) for _ in range(7)]
    assert [status for status, _ in answers] == [401] * 5 + [429] * 2
    assert answers[-1][1]["error"]["code"] == "rate_limited"
    signing_in = {"provider": "dev", "code": "after-the-flood"}
    assert (await api.post("/v1/auth/sessions", signing_in, headers=CLIENT_A))[0] == 429  # same bucket
    assert (await api.post("/v1/auth/sessions", signing_in, headers=CLIENT_B))[0] == 201


async def test_a_flood_of_random_tokens_reaches_the_database_only_up_to_the_limit(
    make_api: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = await make_api(test_config(FIVE_FAILURES))
    status, body = await api.post(
        "/v1/auth/sessions", {"provider": "dev", "code": "bystander"}, headers=CLIENT_B
    )
    assert status == 201
    rider = api.as_(body["token"])
    reads = _counting_reads(monkeypatch)
    statuses: list[int] = []
    for _ in range(6):  # waves of ten at once (larger ones starve a loaded machine's event loop)
        wave = await asyncio.gather(*(_whoami(api, _made_up(), CLIENT_A) for _ in range(10)))
        statuses += [status for status, _ in wave]
    assert len(reads) <= 5 and statuses.count(429) >= 55 and set(statuses) <= {401, 429}
    # Another client is untouched: its session works, and its own mistakes are still 401s.
    assert (await rider.get("/v1/me", headers=CLIENT_B))[0] == 200
    assert (await _whoami(api, _made_up(), CLIENT_B))[0] == 401


async def test_an_unknown_credential_id_is_read_once(
    make_api: AppFactory, clock: MovableClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = (await make_api()).client.server.app[SERVICES].credentials
    reads = _counting_reads(monkeypatch)
    for _ in range(10):
        with pytest.raises(Unauthenticated):
            await service.authenticate(_made_up("crd_nobody"))
    assert reads == ["crd_nobody"]
    clock.advance(seconds=service.settings.negative_cache_seconds + 1)  # forgotten: read again
    with pytest.raises(Unauthenticated):
        await service.authenticate(_made_up("crd_nobody"))
    assert reads == ["crd_nobody"] * 2


async def test_a_wrong_secret_for_a_real_credential_does_not_lock_its_holder_out(
    make_api: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = (await make_api()).client.server.app[SERVICES].credentials
    issued = await service.issue("gate", "shenzhen_bus")
    reads = _counting_reads(monkeypatch)
    for _ in range(3):
        with pytest.raises(Unauthenticated):
            await service.authenticate(_made_up(issued.credential.id))
    principal = await service.authenticate(issued.token)
    assert principal.credential_id == issued.credential.id
    assert reads == [issued.credential.id] * 4  # each wrong secret read it: nothing remembered


async def test_travel_search_with_a_bad_token_counts_as_a_failure_too(make_api: AppFactory) -> None:
    api = await make_api(test_config(FIVE_FAILURES))
    query = "/v1/travel/departures?origin=hzmb_hk_port&destination=hzmb_macao_port&limit=5"
    statuses = [(await api.as_(_made_up()).get(query, headers=CLIENT_A))[0] for _ in range(6)]
    assert statuses[-1] == 429


async def test_requests_joining_a_tokens_read_take_no_attempt_on_the_limit(
    make_api: AppFactory, clock: MovableClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A device with more connections than the `auth` limit (a counter, a bench), whose token's
    cache time runs out: one request reads the credential, the others wait for that read, which
    costs the database nothing, so they take no attempt and get no 429 for a good token."""
    api = await make_api(test_config(FIVE_FAILURES))
    service = api.client.server.app[SERVICES].credentials
    issued = await service.issue("gate", "shenzhen_bus")
    clock.advance(seconds=service.settings.cache_seconds + 1)  # not trusted any more: read again
    release = asyncio.Event()
    reads = _counting_reads(monkeypatch)
    real_get = credentials_module.q.get  # the counting one

    async def held_get(conn: Any, credential_id: str) -> Any:
        await release.wait()  # the read is slow: every request arrives while it runs
        return await real_get(conn, credential_id)

    monkeypatch.setattr(credentials_module.q, "get", held_get)
    arrived: list[str] = []
    authenticate = service.authenticate

    async def counted(token: str) -> Any:
        arrived.append(token)
        return await authenticate(token)

    monkeypatch.setattr(service, "authenticate", counted)
    calls = [asyncio.ensure_future(_whoami(api, issued.token, CLIENT_A)) for _ in range(20)]
    for _ in range(500):  # until each request waits for the read or has been answered
        await asyncio.sleep(0.01)
        if len(arrived) + sum(c.done() for c in calls) >= 20:
            break
    release.set()
    statuses = [status for status, _ in await asyncio.gather(*calls)]
    assert statuses == [200] * 20
    assert reads == [issued.credential.id]  # one read for all twenty
