"""Idempotency-Key: identical replay, 422 on a different body, 409 while in flight, one record."""

from __future__ import annotations

import asyncio

import asyncpg
import orjson

from bayaffairs.handlers.keys import SERVICES
from bayaffairs.idempotency import fingerprint
from tests.conftest import AppFactory
from tests.support import Api, test_config

PATH = "/v1/admin/credentials"
BODY = {"kind": "admin", "scope": "all", "label": "night shift"}


async def admin(api: Api) -> Api:
    issued = await api.client.server.app[SERVICES].credentials.issue("admin", "all")
    return api.as_(issued.token)


async def test_replay_returns_the_first_answer(api: Api, pg: asyncpg.Connection) -> None:
    a = await admin(api)
    first = await a.post(PATH, BODY, headers={"Idempotency-Key": "key-1"})
    async with a.client.post(
        PATH, json=BODY, headers={"Idempotency-Key": "key-1", "Authorization": f"Bearer {a.token}"}
    ) as resp:
        second = (resp.status, await resp.json())
        assert resp.headers["Idempotent-Replayed"] == "true"
    assert first[0] == 201
    assert second == first
    assert await pg.fetchval("SELECT count(*) FROM credentials WHERE label = 'night shift'") == 1


async def test_same_key_with_another_body_is_422(api: Api) -> None:
    a = await admin(api)
    assert (await a.post(PATH, BODY, headers={"Idempotency-Key": "key-2"}))[0] == 201
    status, body = await a.post(PATH, {**BODY, "label": "day shift"}, headers={"Idempotency-Key": "key-2"})
    assert (status, body["error"]["code"]) == (422, "idempotency_key_reused")


async def test_keys_belong_to_their_principal(api: Api, pg: asyncpg.Connection) -> None:
    alice = await api.sign_in("idem-alice")
    bob = await api.sign_in("idem-bob")
    body = {"destination": "HK", "purpose": "appointment"}
    assert (await alice.post("/v1/me/consents", body, headers={"Idempotency-Key": "shared"}))[0] == 201
    assert (await bob.post("/v1/me/consents", body, headers={"Idempotency-Key": "shared"}))[0] == 201
    assert await pg.fetchval("SELECT count(*) FROM consents") == 2


async def test_request_while_the_first_is_in_flight_is_409(api: Api) -> None:
    a = await admin(api)
    raw = orjson.dumps(BODY)
    keys = api.client.server.app[SERVICES].idempotency
    assert await keys.begin("admin:all", "key-3", fingerprint("POST", PATH, raw)) is None  # first one running
    status, body = await a.call(
        "POST", PATH, data=raw, headers={"Idempotency-Key": "key-3", "Content-Type": "application/json"}
    )
    assert (status, body["error"]["code"]) == (409, "idempotency_key_in_use")


async def test_an_abandoned_claim_is_taken_over_after_its_lease(make_api: AppFactory) -> None:
    api = await make_api(test_config({"idempotency": {"lease_seconds": 1}}))
    a = await admin(api)
    raw = orjson.dumps(BODY)
    keys = api.client.server.app[SERVICES].idempotency
    await keys.begin("admin:all", "key-4", fingerprint("POST", PATH, raw))  # its worker then died
    await asyncio.sleep(1.2)
    status, _ = await a.call(
        "POST", PATH, data=raw, headers={"Idempotency-Key": "key-4", "Content-Type": "application/json"}
    )
    assert status == 201


async def test_a_conflict_is_not_kept_so_a_retry_does_the_work(api: Api, pg: asyncpg.Connection) -> None:
    rider = await api.sign_in("idem-dup")
    doc = {
        "type": "passport",
        "holder_name": "A",
        "number": "P1234567",
        "issuing": "FR",
        "expires": "2033-01-01",
    }
    assert (await rider.post("/v1/me/documents", doc))[0] == 201
    status, _ = await rider.post("/v1/me/documents", doc, headers={"Idempotency-Key": "dup"})
    assert status == 409
    assert await pg.fetchval("SELECT count(*) FROM idempotency_keys") == 0
    await rider.delete(f"/v1/me/documents/{(await rider.get('/v1/me/documents'))[1]['items'][0]['id']}")
    assert (await rider.post("/v1/me/documents", doc, headers={"Idempotency-Key": "dup"}))[0] == 201


async def test_a_rejected_body_is_kept_and_replayed(api: Api) -> None:
    rider = await api.sign_in("idem-expired-doc")
    doc = {
        "type": "passport",
        "holder_name": "A",
        "number": "P7654321",
        "issuing": "FR",
        "expires": "2001-01-01",
    }
    first = await rider.post("/v1/me/documents", doc, headers={"Idempotency-Key": "old"})
    second = await rider.post("/v1/me/documents", doc, headers={"Idempotency-Key": "old"})
    assert first[0] == 400 and first[1]["error"]["code"] == "document_expired"
    assert second == first


async def test_a_bad_key_is_400(api: Api) -> None:
    a = await admin(api)
    status, body = await a.post(PATH, BODY, headers={"Idempotency-Key": "x" * 256})
    assert (status, body["error"]["code"]) == (400, "invalid_idempotency_key")


async def test_twenty_concurrent_requests_with_one_key_create_one_record(
    api: Api, pg: asyncpg.Connection
) -> None:
    a = await admin(api)
    answers = await asyncio.gather(
        *(a.post(PATH, BODY, headers={"Idempotency-Key": "storm"}) for _ in range(20))
    )
    created = [body for status, body in answers if status == 201]
    assert {status for status, _ in answers} <= {201, 409}
    assert created and all(body == created[0] for body in created)
    assert await pg.fetchval("SELECT count(*) FROM credentials WHERE label = 'night shift'") == 1


async def test_negative_control_without_the_key_the_same_storm_creates_twenty(
    api: Api, pg: asyncpg.Connection
) -> None:
    """Shows the race above is real: the same concurrent requests, without a key, all create."""
    a = await admin(api)
    answers = await asyncio.gather(*(a.post(PATH, BODY) for _ in range(20)))
    assert [status for status, _ in answers] == [201] * 20
    assert await pg.fetchval("SELECT count(*) FROM credentials WHERE label = 'night shift'") == 20
