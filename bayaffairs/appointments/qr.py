"""The check-in code of an appointment: compact, signed by the `appointments` issuer key.

Reuses the ride codes' primitives (Base45 text for QR alphanumeric mode, raw 64-byte ECDSA
signatures, issuer keys with rotation). Layout, big-endian:

    offset size field
    0      1    version = 1
    1      1    type = 3 (appointment)
    2      2    issuer key number (key id "appointments-<number>")
    4      4    QR version of the appointment: bumped when a new code replaces the old one
    8      30   appointment id (ASCII)
    38     64   signature over bytes 0..37

The code carries no personal data; a counter looks the appointment up by id, and refuses a code
whose version is not the appointment's current one (the old QR after a reschedule).
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass

from bayaffairs.signing.keys import IssuerKeys, SigningKey, load_public_key
from bayaffairs.transit.codes import base45
from bayaffairs.transit.codes.signatures import PublicKey, sign, verify

ISSUER = "appointments"
VERSION = 1
TYPE = 3
ID_SIZE = 30
_BODY = struct.Struct(f">BBHI{ID_SIZE}s")
SIZE = _BODY.size + 64
MAX_TEXT = 200


class BadCode(ValueError):
    """Not a valid appointment code; `reason` is a stable snake_case word."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class CheckInCode:
    appointment_id: str
    qr_version: int
    key_number: int


def key_number(kid: str) -> int:
    return int(kid.rsplit("-", 1)[1])


def encode(key: SigningKey, appointment_id: str, qr_version: int) -> str:
    raw_id = appointment_id.encode("ascii")
    if len(raw_id) != ID_SIZE:
        raise ValueError("appointment ids are 30 ASCII characters")
    body = _BODY.pack(VERSION, TYPE, key_number(key.kid), qr_version, raw_id)
    return base45.encode(body + sign(key.private_key, body))


def decode(payload: str, public_keys: dict[int, PublicKey]) -> CheckInCode:
    if not isinstance(payload, str) or len(payload) > MAX_TEXT:
        raise BadCode("malformed")
    try:
        data = base45.decode(payload)
    except ValueError:
        raise BadCode("malformed") from None
    if len(data) != SIZE or data[0] != VERSION or data[1] != TYPE:
        raise BadCode("malformed")
    _, _, number, qr_version, raw_id = _BODY.unpack_from(data)
    key = public_keys.get(number)
    if key is None:
        raise BadCode("unknown_key")
    if not verify(key, data[_BODY.size :], data[: _BODY.size]):
        raise BadCode("bad_signature")
    try:
        appointment_id = raw_id.decode("ascii")
    except UnicodeDecodeError:
        raise BadCode("malformed") from None
    return CheckInCode(appointment_id, qr_version, number)


class AppointmentKeys:
    """The issuer's signing key and verifying keys, re-read at most every `refresh_seconds`."""

    def __init__(self, keys: IssuerKeys, refresh_seconds: float = 30.0) -> None:
        self.keys = keys
        self.refresh_seconds = refresh_seconds
        self._signing: tuple[SigningKey, float] | None = None
        self._verifying: tuple[dict[int, PublicKey], float] | None = None

    async def signing_key(self) -> SigningKey:
        if self._signing and time.monotonic() - self._signing[1] < self.refresh_seconds:
            return self._signing[0]
        key = await self.keys.signing_key(ISSUER)
        self._signing = (key, time.monotonic())
        return key

    async def verifying(self, refresh: bool = False) -> dict[int, PublicKey]:
        if not refresh and self._verifying and time.monotonic() - self._verifying[1] < self.refresh_seconds:
            return self._verifying[0]
        now = self.keys.clock.now()
        found = {
            key_number(k.kid): load_public_key(k.algorithm, k.public_key)
            for k in await self.keys.all()
            if k.issuer == ISSUER and not k.compromised and (k.valid_until is None or k.valid_until > now)
        }
        self._verifying = (found, time.monotonic())
        return found

    async def check(self, payload: str) -> CheckInCode:
        try:
            return decode(payload, await self.verifying())
        except BadCode as exc:
            if exc.reason != "unknown_key":
                raise
            return decode(payload, await self.verifying(refresh=True))  # a key rotated since
