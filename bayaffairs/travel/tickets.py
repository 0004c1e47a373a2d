"""Tickets: one per passenger, a compact payload signed by the issuer `tickets`.

Built on the ride-code machinery (Base45 text for QR alphanumeric mode, raw 64-byte ECDSA
P-256 or Ed25519 signatures, issuer keys in the database); only the layout is a ticket's own.
Version 1, type 3, 90 bytes, 135 Base45 characters, QR version 6 at level M:

    offset size field
    0      1    version = 1
    1      1    type = 3 (ticket)
    2      2    issuer key number (the key id is "tickets-<number>")
    4      10   ticket id (random; the API's ticket id is "tkt_" + its hex)
    14     8    departure: the first 8 bytes of SHA-256 of the departure id
    22     4    departs at, Unix seconds
    26     64   issuer signature over bytes 0..25
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import struct
import time
from dataclasses import dataclass

from bayaffairs.signing.keys import IssuerKeys, load_public_key
from bayaffairs.transit.codes import base45
from bayaffairs.transit.codes.signatures import sign, verify
from bayaffairs.transit.codes.verify import KeySet, VerifyingKey
from bayaffairs.transit.keyring import key_number

ISSUER = "tickets"
VERSION = 1
TICKET = 3
_BODY = struct.Struct(">BBH10s8sI")  # 26 bytes
SIZE = _BODY.size + 64
MAX_TEXT = 200


class TicketRejected(Exception):
    """`reason`: malformed, unknown_key, revoked or bad_signature."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class SignedTicket:
    id: str
    payload: str


@dataclass(frozen=True)
class VerifiedTicket:
    id: str
    departure_hash: bytes
    departs_at: int

    def for_departure(self, departure_id: str) -> bool:
        return self.departure_hash == departure_hash(departure_id)


def departure_hash(departure_id: str) -> bytes:
    return hashlib.sha256(departure_id.encode()).digest()[:8]


def ticket_id(raw: bytes) -> str:
    return "tkt_" + raw.hex()


class TicketKeys:
    """Signs and verifies tickets; the verifying key set is re-read at most every
    `refresh_seconds`, so rotation and compromise reach every worker within that time."""

    def __init__(self, keys: IssuerKeys, refresh_seconds: float = 30.0) -> None:
        self.keys = keys
        self.refresh_seconds = refresh_seconds
        self._keyset: tuple[KeySet, float] | None = None
        self._lock = asyncio.Lock()

    async def sign(self, departure_id: str, departs_at: int, count: int) -> list[SignedTicket]:
        key = await self.keys.signing_key(ISSUER)
        number = key_number(key.kid)
        out = []
        for _ in range(count):
            raw = secrets.token_bytes(10)
            body = _BODY.pack(VERSION, TICKET, number, raw, departure_hash(departure_id), departs_at)
            out.append(SignedTicket(ticket_id(raw), base45.encode(body + sign(key.private_key, body))))
        return out

    async def verify(self, payload: str) -> VerifiedTicket:
        data = _decode(payload)
        _, _, number, raw, dep, departs_at = _BODY.unpack_from(data)
        key = (await self._keyset_now()).by_number.get(number)
        if key is None:
            raise TicketRejected("unknown_key")
        if key.revoked:
            raise TicketRejected("revoked")
        if not verify(key.public_key, data[_BODY.size :], data[: _BODY.size]):
            raise TicketRejected("bad_signature")
        return VerifiedTicket(ticket_id(raw), dep, departs_at)

    async def _keyset_now(self) -> KeySet:
        if self._keyset and time.monotonic() - self._keyset[1] < self.refresh_seconds:
            return self._keyset[0]
        async with self._lock:
            now = self.keys.clock.now()
            keyset = KeySet(
                VerifyingKey(key_number(k.kid), load_public_key(k.algorithm, k.public_key), k.compromised)
                for k in await self.keys.all()
                if k.issuer == ISSUER and (k.compromised or k.valid_until is None or k.valid_until > now)
            )
            self._keyset = (keyset, time.monotonic())
            return keyset

    def forget(self) -> None:
        self._keyset = None


def _decode(payload: str) -> bytes:
    if not isinstance(payload, str) or len(payload) > MAX_TEXT:
        raise TicketRejected("malformed")
    try:
        data = base45.decode(payload)
    except ValueError:
        raise TicketRejected("malformed") from None
    if len(data) != SIZE or data[0] != VERSION or data[1] != TICKET:
        raise TicketRejected("malformed")
    return data
