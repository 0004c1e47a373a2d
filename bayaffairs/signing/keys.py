"""Issuer keys: rotation, the current signing key, and the keys that still verify.

Rotating creates a new key that signs from now on; the key it replaces stops signing but keeps
verifying for `verify_grace_hours`, so codes and credentials it signed stay good until they
expire (several keys are valid at once during rotation). A compromised key verifies nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from bayaffairs.clock import Clock
from bayaffairs.config.settings import SigningSettings
from bayaffairs.db.queries import issuer_keys as q
from bayaffairs.errors import InvalidInput, NotFound, Unavailable
from bayaffairs.sealing import Sealer
from bayaffairs.storage import Database

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


def _published(row: q.IssuerKeyRow) -> PublishedKey:
    return PublishedKey(
        row.kid,
        row.issuer,
        row.algorithm,
        row.public_key,
        row.created_at,
        row.verifies_until,
        row.retired_at is None,
        row.compromised_at is not None,
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

    async def rotate(self, issuer: str) -> PublishedKey:
        self._check_issuer(issuer)
        now = self.clock.now()
        _, public, der = _generate(self.settings.algorithm)
        async with self.db.transaction() as conn:
            await q.lock_issuer(conn, issuer)
            await q.retire_current(conn, issuer, now, now + timedelta(hours=self.settings.verify_grace_hours))
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
                created_at=now,
            )
        return _published(row)

    async def signing_key(self, issuer: str) -> SigningKey:
        """The key that signs for `issuer` now; NotFound until `keys rotate` made one."""
        self._check_issuer(issuer)
        async with self.db.acquire() as conn:
            row = await q.signing_key(conn, issuer)
        if row is None:
            raise Unavailable("no_signing_key", issuer=issuer)
        der = self.sealer.open(row.private_key_sealed, f"issuer_key|{row.kid}")
        private = serialization.load_der_private_key(der, password=None)
        assert isinstance(private, (ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey))
        return SigningKey(row.kid, row.algorithm, private)

    async def published(self) -> list[PublishedKey]:
        """Every key that still verifies, for gates to download."""
        async with self.db.acquire() as conn:
            rows = await q.verifying_keys(conn, self.clock.now())
        return [_published(r) for r in rows]

    async def all(self) -> list[PublishedKey]:
        async with self.db.acquire() as conn:
            return [_published(r) for r in await q.all_keys(conn)]

    async def mark_compromised(self, kid: str) -> PublishedKey:
        async with self.db.acquire() as conn:
            row = await q.mark_compromised(conn, kid, self.clock.now())
        if row is None:
            raise NotFound("no_such_key")
        return _published(row)
