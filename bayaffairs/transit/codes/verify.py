"""Checking a ride code: layout, key, signatures, time window and scope.

Pure and stateless, shared by the server's online scans and the gate library's offline checks.
Deny lists, replays and tap pairing need state and are checked by the caller.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec

from bayaffairs.transit.codes import format as fmt
from bayaffairs.transit.codes.signatures import PublicKey, device_key, verify


class Rejected(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Policy:
    """`code_seconds`: how long a device-signed code is good for; `skew_seconds`: tolerance for
    a gate's (or phone's) clock being off, both ways."""

    code_seconds: int = 60
    skew_seconds: int = 300


@dataclass(frozen=True, slots=True)
class VerifyingKey:
    """A published key. It signs from `not_before` (Unix seconds): a code it claims to have
    signed earlier is not trusted. `revoked`: refuse everything; `revoked_at`: refuse what is
    checked at or after that instant (a compromise, judged at the time of the scan)."""

    key_number: int
    public_key: PublicKey
    revoked: bool = False
    not_before: int = 0
    revoked_at: int | None = None


@dataclass(frozen=True, slots=True)
class Verified:
    code: fmt.RideCode
    account: bytes
    credential_id: bytes | None

    @property
    def code_key(self) -> str:
        return self.code.code_key


class KeySet:
    """The ride-code issuer's keys by number, as published to gates. `revoked_numbers`: keys on
    the deny list that are no longer published (a compromised key leaves the keys document): their
    codes are "revoked", not "unknown_key"."""

    def __init__(self, keys: Iterable[VerifyingKey], revoked_numbers: Iterable[int] = ()) -> None:
        self.by_number = {k.key_number: k for k in keys}
        self.revoked_numbers = frozenset(revoked_numbers)


class DeviceKeyCache:
    """What a device credential costs to check once and is the same every time, for recent ones:
    its device key (decompressing a P-256 point costs more than a dictionary lookup), and that
    its issuer signature verified. A rider's credential signs every code of theirs for days, so
    a device code then costs one ECDSA verification (the code's), not two (issue 15: about 60 µs
    each, the largest part of checking a tap). A credential is remembered with the key it
    verified against and counts only for that same key; a failed verification is not kept."""

    def __init__(self, size: int = 4096, credentials: int = 16384) -> None:
        self.size = size
        self.credentials = credentials
        self._keys: OrderedDict[bytes, ec.EllipticCurvePublicKey] = OrderedDict()
        self._verified: OrderedDict[bytes, PublicKey] = OrderedDict()

    def verified(self, credential: fmt.DeviceCredential, key: PublicKey) -> bool:
        """Whether `credential`'s issuer signature verified against `key` before."""
        known = self._verified.get(credential.signed + credential.signature)
        return known is not None and (known is key or known == key)

    def remember(self, credential: fmt.DeviceCredential, key: PublicKey) -> None:
        """`credential`'s issuer signature verified against `key`."""
        self._verified[credential.signed + credential.signature] = key
        if len(self._verified) > self.credentials:
            self._verified.popitem(last=False)

    def get(self, raw: bytes) -> ec.EllipticCurvePublicKey:
        key = self._keys.get(raw)
        if key is None:
            key = device_key(raw)
            self._keys[raw] = key
            if len(self._keys) > self.size:
                self._keys.popitem(last=False)
        return key


def check(
    payload: str,
    *,
    now: int,
    keys: KeySet,
    scope: int | Collection[int],
    policy: Policy,
    device_keys: DeviceKeyCache | None = None,
) -> Verified:
    """Verify `payload` at `now` (Unix seconds) for a gate taking codes of city `scope` (or of any
    of several: an operator joined to another city's by a through-fare rule); raise Rejected."""
    try:
        code = fmt.decode_text(payload)
    except fmt.MalformedCode:
        raise Rejected("malformed") from None
    key_number = code.key_number if isinstance(code, fmt.IssuerCode) else code.credential.key_number
    key = keys.by_number.get(key_number)
    if key is None:
        raise Rejected("revoked" if key_number in keys.revoked_numbers else "unknown_key")
    if key.revoked or (key.revoked_at is not None and now >= key.revoked_at):
        raise Rejected("revoked")
    skew = policy.skew_seconds
    if isinstance(code, fmt.IssuerCode):
        if not verify(key.public_key, code.signature, code.signed):
            raise Rejected("bad_signature")
        if now < code.issued_at - skew or code.issued_at < key.not_before - skew:
            raise Rejected("not_yet_valid")
        if now > code.issued_at + code.valid_for + skew:
            raise Rejected("expired")
        credential_id = None
    else:
        credential = code.credential
        cache = device_keys or DeviceKeyCache(1, 1)
        if not cache.verified(credential, key.public_key):
            if not verify(key.public_key, credential.signature, credential.signed):
                raise Rejected("bad_signature")
            cache.remember(credential, key.public_key)
        try:
            device = cache.get(credential.device_key)
        except ValueError:
            raise Rejected("malformed") from None
        if not verify(device, code.signature, code.signed):
            raise Rejected("bad_signature")
        if (
            now < credential.valid_from - skew
            or now < code.code_time - skew
            or credential.valid_from < key.not_before - skew
        ):
            raise Rejected("not_yet_valid")
        if now > credential.valid_until + skew or now > code.code_time + policy.code_seconds + skew:
            raise Rejected("expired")
        credential_id = credential.credential_id
    code_scope = code.scope if isinstance(code, fmt.IssuerCode) else code.credential.scope
    scopes = (scope,) if isinstance(scope, int) else scope
    if code_scope != 0 and code_scope not in scopes:
        raise Rejected("wrong_scope")
    return Verified(code, code.account, credential_id)
