"""Document fingerprints keep their key when the sealing keys rotate, and move to a new
fingerprint key (or a new rule) with `bayaffairs documents refingerprint` (issue 11)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from typing import Any

import asyncpg

from bayaffairs.config import Config
from bayaffairs.documents.cipher import fingerprint_key_of
from tests.cli.conftest import Cli
from tests.conftest import AppFactory
from tests.support import FAR_AHEAD, Api, test_config

MACAO_ID = {"type": "macao_id", "holder_name": "CHAN Tai Man", "number": "1234567(8)", "issuing": "MO"}
PERMIT = {**MACAO_ID, "type": "home_return_permit", "number": "M1234567801", "issuing": "CN"}


def entry(key: tuple[str, bytes]) -> str:
    return f"{key[0]}:{base64.b64encode(key[1]).decode()}"


def print_of(key: bytes, doc_type: str, number: str) -> bytes:
    return hmac.new(key, f"{doc_type}|{number}".encode(), hashlib.sha256).digest()


async def add(rider: Api, body: dict[str, Any]) -> str:
    status, answer = await rider.post("/v1/me/documents", {**body, "expires": FAR_AHEAD})
    assert status == 201, answer
    return str(answer["id"])


async def test_rotating_the_documents_key_keeps_fingerprints_once_the_fingerprint_key_is_set(
    make_api: AppFactory, config: Config, pg: asyncpg.Connection
) -> None:
    sealing = config.settings.secrets.documents_keys[0]
    first = await (await make_api()).sign_in("before-rotation")
    await add(first, MACAO_ID)
    # The deploy sets the fingerprint key to what the sealing key gave; then the sealing key rotates.
    rotated = test_config(
        {
            "secrets": {
                "documents_keys": [entry(("new1", os.urandom(32))), entry(sealing)],
                "fingerprint_keys": [entry(fingerprint_key_of(sealing))],
            }
        }
    )
    second = await (await make_api(rotated)).sign_in("after-rotation")
    await add(second, MACAO_ID)
    prints = await pg.fetch("SELECT DISTINCT number_fingerprint FROM documents")
    assert len(prints) == 1, "the same document added after the rotation is the same person"


async def test_the_fingerprint_key_a_documents_key_gave_is_printed(cli: Cli, config: Config) -> None:
    sealing = config.settings.secrets.documents_keys[0]
    result = await cli("keys", "fingerprint-key", "--from", sealing[0])
    assert result.status == 0, result
    assert result.stdout.strip() == entry(fingerprint_key_of(sealing))
    assert (await cli("keys", "fingerprint-key", "--from", "nosuchkey")).status == 2


async def test_refingerprint_moves_documents_appointments_and_old_permit_numbers_to_the_new_key(
    make_api: AppFactory, config: Config, pg: asyncpg.Connection, cli: Cli, cli_env: dict[str, str]
) -> None:
    sealing = config.settings.secrets.documents_keys[0]
    old_key = fingerprint_key_of(sealing)
    rider = await (await make_api()).sign_in("rotating")
    macao_id = await add(rider, MACAO_ID)
    permit = await add(rider, PERMIT)
    # Stored before the permit rule: its whole 11-character number was fingerprinted.
    legacy = print_of(old_key[1], "home_return_permit", "M1234567801")
    await pg.execute("UPDATE documents SET number_fingerprint = $2 WHERE id = $1", permit, legacy)
    old_print = print_of(old_key[1], "macao_id", "1234567(8)")
    user = await pg.fetchval("SELECT user_id FROM documents WHERE id = $1", permit)
    await pg.execute(
        """INSERT INTO appointments (id, reference, user_id, agency_id, centre_id, service_id, starts_at,
            ends_at, local_date, counter_id, status, holder_name, created_at, updated_at, change_seq,
            department, person_key, person_keys)
        VALUES ('apt_x', 'HQ-X', $3, 'a', 'c', 's', now(), now(), current_date, 'A1', 'booked', 'x',
            now(), now(), 0, 'd', $1, ARRAY[$1, $2, 'account:u'])""",
        "doc:" + old_print.hex(),
        "doc:" + legacy.hex(),
        user,
    )

    new_key = ("fp2", os.urandom(32))
    cli_env["BAYAFFAIRS_SECRETS_FINGERPRINT_KEYS"] = f"{entry(new_key)},{entry(old_key)}"
    result = await cli("documents", "refingerprint", "--batch", "1")
    assert result.status == 0, result
    assert "2 documents read, 2 fingerprints now under fp2 (" in result.stdout

    stored = dict(await pg.fetch("SELECT id, number_fingerprint FROM documents"))
    new_id_print = print_of(new_key[1], "macao_id", "1234567(8)")
    new_permit_print = print_of(new_key[1], "home_return_permit", "M12345678")
    assert stored == {macao_id: new_id_print, permit: new_permit_print}
    row = await pg.fetchrow("SELECT person_key, person_keys FROM appointments")
    assert row["person_key"] == "doc:" + new_id_print.hex()
    assert sorted(row["person_keys"]) == sorted(
        ["doc:" + new_id_print.hex(), "doc:" + new_permit_print.hex(), "account:u"]
    )
    again = await cli("documents", "refingerprint")
    assert "0 fingerprints now under fp2" in again.stdout, again
