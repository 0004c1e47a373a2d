"""Issuer keys: rotation keeps old keys verifying for a grace period; compromise stops them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

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


async def test_a_rotated_key_is_published_a_lead_time_before_it_signs(
    keys: IssuerKeys, clock: MovableClock
) -> None:
    first = await keys.rotate("ride_codes")
    assert first.signing  # an issuer's first key: nothing to wait for
    staged = await keys.rotate("ride_codes")
    lead = timedelta(hours=keys.settings.key_lead_hours)
    assert staged.kid == "ride_codes-2" and not staged.signing and staged.not_before >= clock.now() + lead
    published = {k.kid: k for k in await keys.published()}
    assert set(published) == {"ride_codes-1", "ride_codes-2"}
    assert published["ride_codes-1"].signing and not published["ride_codes-2"].signing
    assert (await keys.signing_key("ride_codes")).kid == "ride_codes-1"
    clock.advance(hours=keys.settings.key_lead_hours - 1)
    assert (await keys.signing_key("ride_codes")).kid == "ride_codes-1"
    clock.advance(hours=1)
    assert (await keys.signing_key("ride_codes")).kid == "ride_codes-2"
    published = {k.kid: k for k in await keys.published()}
    assert not published["ride_codes-1"].signing and published["ride_codes-2"].signing


async def test_rotate_now_switches_at_once_for_a_compromise(keys: IssuerKeys, clock: MovableClock) -> None:
    await keys.rotate("ride_codes")
    staged = await keys.rotate("ride_codes")
    switched = await keys.rotate("ride_codes", now=True)
    assert switched.signing and switched.not_before == clock.now()
    assert (await keys.signing_key("ride_codes")).kid == switched.kid
    # The staged key never signed anything: it is withdrawn rather than left to take over later.
    assert staged.kid not in {k.kid for k in await keys.published()}
    clock.advance(hours=keys.settings.key_lead_hours + 1)
    assert (await keys.signing_key("ride_codes")).kid == switched.kid


def needed(issuer: str, config: Config) -> timedelta:
    """How long something a key signed just before it retired may still be presented."""
    settings = config.settings
    if issuer == "ride_codes":
        # a device credential (up to 72 h) may be shown until it ends, and its offline taps
        # uploaded for the offline window after that
        return timedelta(hours=72, days=settings.ride_codes.offline_window_days)
    if issuer == "tickets":  # sold up to [travel] days_ahead before the travel date
        return timedelta(days=settings.travel.days_ahead)
    return timedelta(days=365)  # appointments: booked up to max_days_ahead (at most 365) ahead


@pytest.mark.parametrize("issuer", ["ride_codes", "tickets", "appointments"])
async def test_a_retired_key_stays_published_while_what_it_signed_may_be_presented(
    keys: IssuerKeys, clock: MovableClock, issuer: str, config: Config
) -> None:
    needed_for = needed(issuer, config)
    await keys.rotate(issuer)
    await keys.rotate(issuer, now=True)
    retired = f"{issuer}-1"
    clock.advance(seconds=needed_for.total_seconds())
    assert retired in {k.kid for k in await keys.published()}
    horizon = timedelta(hours=keys.settings.presentable_hours[issuer])
    assert horizon >= needed_for
    clock.advance(seconds=(horizon - needed_for).total_seconds() + 1)
    assert retired not in {k.kid for k in await keys.published()}


async def test_a_compromised_key_is_withdrawn_at_once(keys: IssuerKeys) -> None:
    await keys.rotate("appointments")
    await keys.rotate("appointments", now=True)
    await keys.mark_compromised("appointments-1")
    assert {k.kid for k in await keys.published()} == {"appointments-2"}


async def test_concurrent_rotations_leave_one_signing_key(keys: IssuerKeys, pg: asyncpg.Connection) -> None:
    await asyncio.gather(*(keys.rotate("tickets", now=True) for _ in range(5)))
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


async def test_a_key_this_process_signs_with_is_in_the_set_it_verifies_with(keys: IssuerKeys) -> None:
    """The key set is cached (30 s): when the signing key read after a rotation is one the cached
    set lacks, the set is read again, so this process never refuses its own fresh codes."""
    from bayaffairs.transit.keyring import RideCodeKeys

    await keys.rotate("ride_codes")
    ride_codes = RideCodeKeys(keys)
    assert set((await ride_codes.keyset()).by_number) == {1}  # cached, say by the tap-upload job
    await keys.rotate("ride_codes", now=True)  # elsewhere: another worker, `keys rotate --now`
    signing = await ride_codes.signing_key()
    assert signing.kid == "ride_codes-2"
    assert set((await ride_codes.keyset()).by_number) == {1, 2}
