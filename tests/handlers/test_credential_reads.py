"""A worker reads a credential once for all requests that find it uncached at the same moment."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bayaffairs import credentials as credentials_module
from bayaffairs.errors import Unauthenticated
from bayaffairs.handlers.keys import SERVICES
from tests.conftest import AppFactory
from tests.support import MovableClock


def _counting_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    reads: list[str] = []
    real_get = credentials_module.q.get

    async def get(conn: Any, credential_id: str) -> Any:
        reads.append(credential_id)
        await asyncio.sleep(0.01)  # the others arrive while this read is in flight
        return await real_get(conn, credential_id)

    monkeypatch.setattr(credentials_module.q, "get", get)
    return reads


async def test_concurrent_requests_with_an_uncached_token_share_one_read(
    make_api: AppFactory, clock: MovableClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = (await make_api()).client.server.app[SERVICES].credentials
    issued = await service.issue("gate", "shenzhen_bus")
    reads = _counting_reads(monkeypatch)
    principals = await asyncio.gather(*(service.authenticate(issued.token) for _ in range(20)))
    assert reads == [issued.credential.id]
    assert {p.credential_id for p in principals} == {issued.credential.id}
    clock.advance(seconds=6)  # past cache_seconds (5 in the test profile): read again, once
    await asyncio.gather(*(service.authenticate(issued.token) for _ in range(20)))
    assert len(reads) == 2


async def test_a_shared_read_fails_for_every_request_that_waited_on_it(
    make_api: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = (await make_api()).client.server.app[SERVICES].credentials
    issued = await service.issue("gate", "shenzhen_bus")
    await service.revoke(issued.credential.id)
    reads = _counting_reads(monkeypatch)
    outcomes = await asyncio.gather(
        *(service.authenticate(issued.token) for _ in range(5)), return_exceptions=True
    )
    assert len(reads) == 1
    assert all(isinstance(o, Unauthenticated) and o.code == "token_revoked" for o in outcomes)


async def test_a_revocation_is_not_hidden_by_a_read_begun_before_it(
    make_api: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = (await make_api()).client.server.app[SERVICES].credentials
    issued = await service.issue("gate", "shenzhen_bus")
    reads = _counting_reads(monkeypatch)
    early = asyncio.ensure_future(service.authenticate(issued.token))
    await asyncio.sleep(0)  # the early read is in flight
    await service.revoke(issued.credential.id)
    with pytest.raises(Unauthenticated):
        await service.authenticate(issued.token)
    await asyncio.gather(early, return_exceptions=True)
    assert len(reads) == 2
