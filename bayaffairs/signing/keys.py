"""Issuer keys: rotation, the current signing key, and the keys that still verify.

Rotating stages a new key: it is published at once and signs only from `not_before`,
`key_lead_hours` later, so every gate has downloaded it before the first code it signs is shown
(a switch at once, `now=True`, is for a compromised key; an issuer with no signing key switches
at once anyway). The key it replaces stops signing then but stays published and verifying for its
issuer's presentable horizon (`presentable_hours`): as long as anything it signed may still be
presented. Several keys are valid at once during rotation. A compromised key verifies nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from bayaffairs.clock import Clock
from bayaffairs.config.settings import DEFAULT_PRESENTABLE_HOURS, SigningSettings
from bayaffairs.db.queries import issuer_keys as q
from bayaffairs.errors import InvalidInput, NotFound, Unavailable
from bayaffairs.sealing import Sealer
from bayaffairs.storage import Database

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
PublicKey = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey


@dataclass(frozen=True)
class PublishedKey:
    kid: str
    issuer: str
    algorithm: str
    public_key: bytes
    valid_from: datetime
    valid_until: datetime | None
    signing: bool
    compromised: bool = False
    not_before: datetime | None = None  # signs from then (None: from valid_from)
    compromised_at: datetime | None = None


@dataclass(frozen=True)
class SigningKey:
    kid: str
    algorithm: str
    private_key: PrivateKey


def _generate(algorithm: str) -> tuple[PrivateKey, bytes, bytes]:
    private: PrivateKey
    if algorithm == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
        public = private.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    else:
        private = ed25519.Ed25519PrivateKey.generate()
        public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    der = private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return private, public, der


def load_public_key(algorithm: str, raw: bytes) -> PublicKey:
    if algorithm == "ES256":
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    return ed25519.Ed25519PublicKey.from_public_bytes(raw)


def _published(row: q.IssuerKeyRow, now: datetime) -> PublishedKey:
    return PublishedKey(
        row.kid,
        row.issuer,
        row.algorithm,
        row.public_key,
        row.created_at,
        row.verifies_until,
        row.compromised_at is None
        and row.not_before <= now
        and (row.retired_at is None or row.retired_at > now),
        row.compromised_at is not None,
        row.not_before,
        row.compromised_at,
    )


class IssuerKeys:
    def __init__(self, db: Database, clock: Clock, settings: SigningSettings, sealer: Sealer) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings
        self.sealer = sealer

    def _check_issuer(self, issuer: str) -> None:
        if issuer not in self.settings.issuers:
            raise InvalidInput(
                {"issuer": [f"unknown issuer; configured: {', '.join(self.settings.issuers)}"]}
            )

    def horizon(self, issuer: str) -> timedelta:
        return timedelta(hours=self.settings.presentable_hours.get(issuer, DEFAULT_PRESENTABLE_HOURS))

    async def rotate(self, issuer: str, *, now: bool = False) -> PublishedKey:
        """Stage a new key for `issuer` (it signs `key_lead_hours` from now), or with `now` switch
        at once. A key staged before and not yet signing is replaced (it never signed anything)."""
        self._check_issuer(issuer)
        at = self.clock.now()
        _, public, der = _generate(self.settings.algorithm)
        async with self.db.transaction() as conn:
            await q.lock_issuer(conn, issuer)
            await q.withdraw_staged(conn, issuer, at)
            current = await q.signing_key(conn, issuer, at)
            if await q.next_number(conn, issuer) == 1:
                starts = EPOCH  # an issuer's first key: nothing was signed before it, by any clock
            elif now or current is None:
                starts = at
            else:
                starts = at + timedelta(hours=self.settings.key_lead_hours)
            await q.retire_signing(conn, issuer, at, starts, starts + self.horizon(issuer))
            number = await q.next_number(conn, issuer)
            kid = f"{issuer}-{number}"
            row = await q.insert(
                conn,
                kid=kid,
                issuer=issuer,
                key_number=number,
                algorithm=self.settings.algorithm,
                public_key=public,
                private_key_sealed=self.sealer.seal(der, f"issuer_key|{kid}"),
                created_at=at,
                not_before=starts,
            )
        return _published(row, at)

    async def signing_key(self, issuer: str) -> SigningKey:
        """The key that signs for `issuer` now; NotFound until `keys rotate` made one."""
        self._check_issuer(issuer)
        async with self.db.acquire() as conn:
            row = await q.signing_key(conn, issuer, self.clock.now())
        if row is None:
            raise Unavailable("no_signing_key", issuer=issuer)
        der = self.sealer.open(row.private_key_sealed, f"issuer_key|{row.kid}")
        private = serialization.load_der_private_key(der, password=None)
        assert isinstance(private, (ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey))
        return SigningKey(row.kid, row.algorithm, private)

    async def published(self) -> list[PublishedKey]:
        """Every key that still verifies (staged ones too), for gates to download."""
        now = self.clock.now()
        async with self.db.acquire() as conn:
            rows = await q.verifying_keys(conn, now)
        return [_published(r, now) for r in rows]

    async def all(self) -> list[PublishedKey]:
        now = self.clock.now()
        async with self.db.acquire() as conn:
            return [_published(r, now) for r in await q.all_keys(conn)]

    async def mark_compromised(self, kid: str) -> PublishedKey:
        async with self.db.acquire() as conn:
            row = await q.mark_compromised(conn, kid, self.clock.now())
        if row is None:
            raise NotFound("no_such_key")
        return _published(row, self.clock.now())
