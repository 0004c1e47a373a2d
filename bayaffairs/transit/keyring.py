"""The ride-code issuer's keys as this process uses them: the signing key and the key set that
verifies, both re-read from the database at most every `refresh_seconds` (rotation and
compromise reach every worker within that time; a key marked compromised through this process
is dropped at once)."""

from __future__ import annotations

import asyncio
import time

from bayaffairs.signing.keys import IssuerKeys, SigningKey, load_public_key
from bayaffairs.transit.codes.verify import KeySet, VerifyingKey

ISSUER = "ride_codes"


def key_number(kid: str) -> int:
    return int(kid.rsplit("-", 1)[1])


class RideCodeKeys:
    def __init__(self, keys: IssuerKeys, refresh_seconds: float = 30.0) -> None:
        self.keys = keys
        self.refresh_seconds = refresh_seconds
        self._signing: tuple[SigningKey, float] | None = None
        self._keyset: tuple[KeySet, float] | None = None
        self._lock = asyncio.Lock()

    def _fresh(self, stamp: float) -> bool:
        return time.monotonic() - stamp < self.refresh_seconds

    async def signing_key(self) -> SigningKey:
        if self._signing and self._fresh(self._signing[1]):
            return self._signing[0]
        key = await self.keys.signing_key(ISSUER)
        self._signing = (key, time.monotonic())
        if self._keyset and key_number(key.kid) not in self._keyset[0].by_number:
            self._keyset = None  # a rotation since: codes signed now must verify here at once
        return key

    def kept_keyset(self) -> KeySet | None:
        """The key set while it is fresh (no await: every scan asks), else None."""
        if self._keyset and self._fresh(self._keyset[1]):
            return self._keyset[0]
        return None

    async def keyset(self) -> KeySet:
        if self._keyset and self._fresh(self._keyset[1]):
            return self._keyset[0]
        async with self._lock:
            if self._keyset and self._fresh(self._keyset[1]):
                return self._keyset[0]
            # Compromised keys stay in the set, revoked from the instant of the compromise, so a
            # code signed with one is refused as "revoked" rather than "unknown_key" and an offline
            # tap scanned before it still verifies; keys past their presentable horizon are gone.
            now = self.keys.clock.now()
            keys = [
                k
                for k in await self.keys.all()
                if k.issuer == ISSUER and (k.compromised or k.valid_until is None or k.valid_until > now)
            ]
            keyset = KeySet(
                VerifyingKey(
                    key_number(k.kid),
                    load_public_key(k.algorithm, k.public_key),
                    not_before=int((k.not_before or k.valid_from).timestamp()),
                    revoked_at=int(k.compromised_at.timestamp()) if k.compromised_at else None,
                )
                for k in keys
            )
            self._keyset = (keyset, time.monotonic())
            return keyset

    def forget(self) -> None:
        self._signing = None
        self._keyset = None
