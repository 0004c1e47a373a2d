"""Documents: validated, encrypted at rest, only ever shown masked."""

from __future__ import annotations

import asyncpg
import pytest
from cryptography.exceptions import InvalidTag

from bayaffairs.handlers.keys import SERVICES
from bayaffairs.privacy.access import Access
from tests.support import A_YEAR_AHEAD, FAR_AHEAD, Api

HKID = {
    "type": "hkid",
    "holder_name": "Chan Tai Man",
    "number": "A123456(3)",
    "issuing": "HK",
    "expires": FAR_AHEAD,
}
PERMIT = {
    "type": "exit_entry_permit",
    "holder_name": "Li Na",
    "number": "C12345678",
    "issuing": "CN",
    "expires": FAR_AHEAD,
    "date_of_birth": "1990-04-02",
    "endorsements": [{"type": "G", "destination": "HK", "expires": A_YEAR_AHEAD, "entries": 1}],
}


async def test_adding_a_document_answers_it_masked(api: Api) -> None:
    rider = await api.sign_in("docs")
    status, doc = await rider.post("/v1/me/documents", HKID)
    assert status == 201
    assert doc["number_masked"] == "A*****6(3)"
    assert "number" not in doc
    assert {"id", "type", "holder_name", "number_masked", "issuing", "expires"} <= set(doc)


async def test_the_number_is_not_in_the_database_in_clear(api: Api, pg: asyncpg.Connection) -> None:
    rider = await api.sign_in("docs-clear")
    await rider.post("/v1/me/documents", PERMIT)
    row = await pg.fetchrow("SELECT d::text AS text, number_ciphertext FROM documents d")
    assert "12345678" not in row["text"]
    assert b"12345678" not in bytes(row["number_ciphertext"])
    dump = await pg.fetchval("SELECT string_agg(d::text, '') FROM documents d")
    assert "C12345678" not in dump


async def test_the_stored_number_decrypts_only_for_its_own_row(api: Api, pg: asyncpg.Connection) -> None:
    rider = await api.sign_in("docs-decrypt")
    _, doc = await rider.post("/v1/me/documents", PERMIT)
    me = (await rider.get("/v1/me"))[1]
    documents = api.client.server.app[SERVICES].documents
    export = Access("rider", "crd_test", "export")
    assert await documents.reveal_number(me["id"], doc["id"], export) == "C12345678"
    _, other = await rider.post("/v1/me/documents", HKID)
    await pg.execute(
        "UPDATE documents SET number_ciphertext = (SELECT number_ciphertext FROM documents WHERE id = $1)"
        " WHERE id = $2",
        doc["id"],
        other["id"],
    )
    with pytest.raises(InvalidTag):  # a ciphertext moved to another row must not decrypt
        await documents.reveal_number(me["id"], other["id"], export)


async def test_endorsements_are_kept(api: Api) -> None:
    rider = await api.sign_in("docs-endorse")
    _, doc = await rider.post("/v1/me/documents", PERMIT)
    assert doc["endorsements"] == PERMIT["endorsements"]
    assert doc["date_of_birth"] == "1990-04-02"


async def test_wrong_check_digit_is_400_on_number(api: Api) -> None:
    rider = await api.sign_in("docs-check")
    status, body = await rider.post("/v1/me/documents", {**HKID, "number": "A123456(4)"})
    assert status == 400
    assert "check digit" in body["error"]["details"]["fields"]["number"][0]


async def test_issuer_must_match_the_document_type(api: Api) -> None:
    rider = await api.sign_in("docs-issuer")
    status, body = await rider.post("/v1/me/documents", {**HKID, "issuing": "MO"})
    assert status == 400 and "issuing" in body["error"]["details"]["fields"]


async def test_endorsements_only_on_exit_entry_permits(api: Api) -> None:
    rider = await api.sign_in("docs-endorse-bad")
    status, body = await rider.post("/v1/me/documents", {**HKID, "endorsements": PERMIT["endorsements"]})
    assert status == 400 and "endorsements" in body["error"]["details"]["fields"]


async def test_an_expired_document_is_refused(api: Api) -> None:
    rider = await api.sign_in("docs-expired")
    status, body = await rider.post("/v1/me/documents", {**HKID, "expires": "2020-01-01"})
    assert (status, body["error"]["code"]) == (400, "document_expired")


async def test_the_same_document_twice_is_409(api: Api) -> None:
    rider = await api.sign_in("docs-twice")
    assert (await rider.post("/v1/me/documents", HKID))[0] == 201
    status, body = await rider.post("/v1/me/documents", {**HKID, "number": "a 123456 (3)"})
    assert (status, body["error"]["code"]) == (409, "document_exists")


async def test_family_members_documents_can_be_added(api: Api) -> None:
    rider = await api.sign_in("docs-family")
    assert (await rider.post("/v1/me/documents", HKID))[0] == 201
    status, _ = await rider.post(
        "/v1/me/documents", {**HKID, "holder_name": "Chan Siu Ming", "number": "Z683771(A)"}
    )
    assert status == 201
    _, listing = await rider.get("/v1/me/documents")
    assert sorted(d["holder_name"] for d in listing["items"]) == ["Chan Siu Ming", "Chan Tai Man"]


async def test_list_pages_with_a_cursor(api: Api) -> None:
    rider = await api.sign_in("docs-pages")
    numbers = ["P1000001", "P1000002", "P1000003"]
    for number in numbers:
        await rider.post("/v1/me/documents", {**HKID, "type": "passport", "issuing": "CA", "number": number})
    _, first = await rider.get("/v1/me/documents?limit=2")
    assert len(first["items"]) == 2 and first["next_cursor"]
    _, second = await rider.get(f"/v1/me/documents?limit=2&cursor={first['next_cursor']}")
    assert len(second["items"]) == 1 and second["next_cursor"] is None
    seen = {d["id"] for d in first["items"] + second["items"]}
    assert len(seen) == 3


async def test_deleting_removes_the_row(api: Api, pg: asyncpg.Connection) -> None:
    rider = await api.sign_in("docs-delete")
    _, doc = await rider.post("/v1/me/documents", HKID)
    assert (await rider.delete(f"/v1/me/documents/{doc['id']}"))[0] == 204
    assert await pg.fetchval("SELECT count(*) FROM documents") == 0
    assert (await rider.get(f"/v1/me/documents/{doc['id']}"))[0] == 404
