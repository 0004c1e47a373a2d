"""Idempotency-Key: identical replay, 422 on a different body, 409 while in flight, one record.

Exercised on POST /v1/ride-credentials: every call without a key creates a new credential row,
so a duplicate would show.
"""

from __future__ import annotations

import asyncio
import base64

import asyncpg
import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bayaffairs.handlers.keys import SERVICES
from bayaffairs.idempotency import fingerprint
from tests.conftest import AppFactory
from tests.support import FAR_AHEAD, Api, test_config

PATH = "/v1/ride-credentials"


def device_key() -> str:
    public = ec.generate_private_key(ec.SECP256R1()).public_key()
    return base64.b64encode(
        public.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
    ).decode()


BODY = {"device_public_key": device_key(), "algorithm": "ES256"}


async def rider(api: Api, handle: str = "idem") -> Api:
    services = api.client.server.app[SERVICES]
    if not [k for k in await services.transit.issuer_keys.all() if k.signing]:
        await services.transit.issuer_keys.rotate("ride_codes")
    who = await api.sign_in(handle)
    await who.put("/v1/me/wallet", {"currency": "MOP", "provider": "demo"})
    return who


async def user_id(who: Api) -> str:
    return (await who.get("/v1/me"))[1]["id"]


async def test_replay_returns_the_first_answer(api: Api, pg: asyncpg.Connection) -> None:
    who = await rider(api)
    first = await who.post(PATH, BODY, headers={"Idempotency-Key": "key-1"})
    async with who.client.post(
        PATH, json=BODY, headers={"Idempotency-Key": "key-1", "Authorization": f"Bearer {who.token}"}
    ) as resp:
        second = (resp.status, await resp.json())
        assert resp.headers["Idempotent-Replayed"] == "true"
    assert first[0] == 201
    assert second == first
    assert await pg.fetchval("SELECT count(*) FROM ride_credentials") == 1


async def test_same_key_with_another_body_is_422(api: Api) -> None:
    who = await rider(api)
    assert (await who.post(PATH, BODY, headers={"Idempotency-Key": "key-2"}))[0] == 201
    status, body = await who.post(
        PATH, {**BODY, "device_public_key": device_key()}, headers={"Idempotency-Key": "key-2"}
    )
    assert (status, body["error"]["code"]) == (422, "idempotency_key_reused")


async def test_keys_belong_to_their_principal(api: Api, pg: asyncpg.Connection) -> None:
    alice = await api.sign_in("idem-alice")
    bob = await api.sign_in("idem-bob")
    body = {"destination": "HK", "purpose": "appointment"}
    assert (await alice.post("/v1/me/consents", body, headers={"Idempotency-Key": "shared"}))[0] == 201
    assert (await bob.post("/v1/me/consents", body, headers={"Idempotency-Key": "shared"}))[0] == 201
    assert await pg.fetchval("SELECT count(*) FROM consents") == 2


async def test_request_while_the_first_is_in_flight_is_409(api: Api) -> None:
    who = await rider(api)
    raw = orjson.dumps(BODY)
    keys = api.client.server.app[SERVICES].idempotency
    first = await keys.begin(f"rider:{await user_id(who)}", "key-3", fingerprint("POST", PATH, raw))
    assert first is None  # the first one is running
    status, body = await who.call(
        "POST", PATH, data=raw, headers={"Idempotency-Key": "key-3", "Content-Type": "application/json"}
    )
    assert (status, body["error"]["code"]) == (409, "idempotency_key_in_use")


async def test_an_abandoned_claim_is_taken_over_after_its_lease(make_api: AppFactory) -> None:
    api = await make_api(test_config({"idempotency": {"lease_seconds": 1}}))
    who = await rider(api)
    raw = orjson.dumps(BODY)
    keys = api.client.server.app[SERVICES].idempotency
    await keys.begin(f"rider:{await user_id(who)}", "key-4", fingerprint("POST", PATH, raw))  # then it died
    await asyncio.sleep(1.2)
    status, _ = await who.call(
        "POST", PATH, data=raw, headers={"Idempotency-Key": "key-4", "Content-Type": "application/json"}
    )
    assert status == 201


async def test_a_conflict_is_not_kept_so_a_retry_does_the_work(api: Api, pg: asyncpg.Connection) -> None:
    who = await api.sign_in("idem-dup")
    doc = {
        "type": "passport",
        "holder_name": "A",
        "number": "P1234567",
        "issuing": "FR",
        "expires": FAR_AHEAD,
    }
    assert (await who.post("/v1/me/documents", doc))[0] == 201
    status, _ = await who.post("/v1/me/documents", doc, headers={"Idempotency-Key": "dup"})
    assert status == 409
    assert await pg.fetchval("SELECT count(*) FROM idempotency_keys") == 0
    await who.delete(f"/v1/me/documents/{(await who.get('/v1/me/documents'))[1]['items'][0]['id']}")
    assert (await who.post("/v1/me/documents", doc, headers={"Idempotency-Key": "dup"}))[0] == 201


async def test_a_rejected_body_is_kept_and_replayed(api: Api) -> None:
    who = await api.sign_in("idem-expired-doc")
    doc = {
        "type": "passport",
        "holder_name": "A",
        "number": "P7654321",
        "issuing": "FR",
        "expires": "2001-01-01",
    }
    first = await who.post("/v1/me/documents", doc, headers={"Idempotency-Key": "old"})
    second = await who.post("/v1/me/documents", doc, headers={"Idempotency-Key": "old"})
    assert first[0] == 400 and first[1]["error"]["code"] == "document_expired"
    assert second == first


async def test_a_bad_key_is_400(api: Api) -> None:
    who = await rider(api)
    status, body = await who.post(PATH, BODY, headers={"Idempotency-Key": "x" * 256})
    assert (status, body["error"]["code"]) == (400, "invalid_idempotency_key")


async def test_twenty_concurrent_requests_with_one_key_create_one_record(
    api: Api, pg: asyncpg.Connection
) -> None:
    who = await rider(api)
    answers = await asyncio.gather(
        *(who.post(PATH, BODY, headers={"Idempotency-Key": "storm"}) for _ in range(20))
    )
    created = [body for status, body in answers if status == 201]
    assert {status for status, _ in answers} <= {201, 409}
    assert created and all(body == created[0] for body in created)
    assert await pg.fetchval("SELECT count(*) FROM ride_credentials") == 1


async def test_negative_control_without_the_key_the_same_storm_creates_twenty(
    api: Api, pg: asyncpg.Connection
) -> None:
    """Shows the race above is real: the same concurrent requests, without a key, all create."""
    who = await rider(api)
    answers = await asyncio.gather(*(who.post(PATH, BODY) for _ in range(20)))
    assert [status for status, _ in answers] == [201] * 20
    assert await pg.fetchval("SELECT count(*) FROM ride_credentials") == 20


async def test_an_admin_credential_answer_is_never_stored(api: Api, pg: asyncpg.Connection) -> None:
    issued = await api.client.server.app[SERVICES].credentials.issue("admin", "all")
    admin = api.as_(issued.token)
    status, body = await admin.post(
        "/v1/admin/credentials", {"kind": "admin", "scope": "all"}, headers={"Idempotency-Key": "k"}
    )
    assert status == 201
    stored = await pg.fetch("SELECT body FROM idempotency_keys")
    assert all(body["token"].encode() not in bytes(row["body"]) for row in stored)
