"""Issuer keys: rotation keeps old keys verifying for a grace period; compromise stops them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bayaffairs.config import Config
from bayaffairs.db.database import Database
from bayaffairs.errors import InvalidInput, Unavailable
from bayaffairs.sealing import Sealer
from bayaffairs.signing.keys import IssuerKeys, load_public_key
from tests.support import MovableClock


@pytest.fixture
async def keys(config: Config, pg: asyncpg.Connection, clock: MovableClock) -> AsyncIterator[IssuerKeys]:
    db = Database(config.settings.database)
    await db.start()
    yield IssuerKeys(db, clock, config.settings.signing, Sealer(config.settings.secrets.signing_keys))
    await db.stop()


async def test_a_new_issuer_has_no_signing_key_until_rotated(keys: IssuerKeys) -> None:
    with pytest.raises(Unavailable):
        await keys.signing_key("tickets")
    key = await keys.rotate("tickets")
    assert key.kid == "tickets-1" and key.signing
    assert (await keys.signing_key("tickets")).kid == "tickets-1"


async def test_the_signing_key_verifies_with_the_published_public_key(keys: IssuerKeys) -> None:
    await keys.rotate("ride_codes")
    signing = await keys.signing_key("ride_codes")
    private = signing.private_key
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    signature = private.sign(b"payload", ec.ECDSA(hashes.SHA256()))
    published = {k.kid: k for k in await keys.published()}[signing.kid]
    public = load_public_key(published.algorithm, published.public_key)
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(signature, b"payload", ec.ECDSA(hashes.SHA256()))


async def test_rotation_keeps_the_old_key_verifying_for_the_grace_period(
    keys: IssuerKeys, clock: MovableClock
) -> None:
    await keys.rotate("ride_codes")
    await keys.rotate("ride_codes")
    published = {k.kid: k for k in await keys.published()}
    assert set(published) == {"ride_codes-1", "ride_codes-2"}
    assert not published["ride_codes-1"].signing and published["ride_codes-2"].signing
    assert (await keys.signing_key("ride_codes")).kid == "ride_codes-2"
    clock.advance(hours=97)
    assert {k.kid for k in await keys.published()} == {"ride_codes-2"}


async def test_a_compromised_key_is_withdrawn_at_once(keys: IssuerKeys) -> None:
    await keys.rotate("appointments")
    await keys.rotate("appointments")
    await keys.mark_compromised("appointments-1")
    assert {k.kid for k in await keys.published()} == {"appointments-2"}


async def test_concurrent_rotations_leave_one_signing_key(keys: IssuerKeys, pg: asyncpg.Connection) -> None:
    await asyncio.gather(*(keys.rotate("tickets") for _ in range(5)))
    rows = await pg.fetch(
        "SELECT kid, retired_at FROM issuer_keys WHERE issuer = 'tickets' ORDER BY key_number"
    )
    assert [r["kid"] for r in rows] == [f"tickets-{n}" for n in range(1, 6)]
    assert [r["retired_at"] is None for r in rows] == [False] * 4 + [True]


async def test_the_private_key_is_sealed_at_rest(keys: IssuerKeys, pg: asyncpg.Connection) -> None:
    await keys.rotate("tickets")
    private = (await keys.signing_key("tickets")).private_key
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    scalar = private.private_numbers().private_value.to_bytes(32, "big")
    der = private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    stored = bytes(await pg.fetchval("SELECT private_key_sealed FROM issuer_keys"))
    assert scalar not in stored and der not in stored


async def test_unknown_issuer_is_refused(keys: IssuerKeys) -> None:
    with pytest.raises(InvalidInput):
        await keys.rotate("lottery")
