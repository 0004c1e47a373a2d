"""The ride-code byte layout, version 1. Integers are big-endian; times are Unix seconds (UTC).

A code is sent as text: the bytes below in Base45 (RFC 9285), which is what the QR encodes (QR
alphanumeric mode) and what the API calls `payload`. Signatures are ECDSA P-256 over SHA-256 in
raw form, r then s, 32 bytes each (keys may also be Ed25519, whose signatures are 64 bytes too).
A verifier checks the signature over the exact bytes received, before reading anything else
that it trusts.

Issuer code (type 1), 91 bytes, signed by the ride-code issuer key; 137 Base45 characters, QR
version 6-M:

    offset size field
    0      1    version = 1
    1      1    type = 1
    2      2    issuer key number (the key id is "ride_codes-<number>")
    4      4    issued at
    8      2    valid for, seconds
    10     1    scope: city scope code (config/cities/*.toml `scope_code`), 0 = every city
    11     8    account token: random per ride account, not personal data; what deny lists name
    19     8    nonce: random per code; with the type it identifies the code
    27     64   issuer signature over bytes 0..26

Group code (type 3), 92 bytes: an issuer code for several riders (a Macao multi-rider code
covers up to 3 fares), asked for explicitly; bytes 0..26 as type 1 (type = 3), then

    27     1    riders, 2 or 3
    28     64   issuer signature over bytes 0..27

One scan lets the group through and charges one fare per rider; a code for one rider is always
type 1.

Device code (type 2), 198 bytes: an issuer-signed credential binding the rider's device key
(valid 24-72 h), then a part the phone signs itself for each code, offline; 297 Base45
characters, QR version 10-M:

    0      1    version = 1
    1      1    type = 2
    2      2    issuer key number
    4      4    credential valid from
    8      4    credential valid until
    12     1    scope
    13     8    account token
    21     8    credential id
    29     33   device public key, P-256 compressed point
    62     64   issuer signature over bytes 0..61
    126    4    code time (set by the phone)
    130    4    counter (per credential, increasing)
    134    64   device signature over bytes 0..133

Test vectors: docs/ride-codes.md and tests/transit/test_code_format.py.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from bayaffairs.transit.codes import base45

VERSION = 1
ISSUER_CODE = 1
DEVICE_CODE = 2
GROUP_CODE = 3
MAX_RIDERS = 3
SIGNATURE_SIZE = 64
ISSUER_CODE_SIZE = 91
DEVICE_CODE_SIZE = 198
GROUP_CODE_SIZE = 92
CREDENTIAL_SIZE = 126  # the issuer-signed part of a device code
MAX_PAYLOAD_TEXT = 300  # anything longer is refused before decoding

_ISSUER_BODY = struct.Struct(">BBHIHB8s8s")  # 27 bytes
_GROUP_BODY = struct.Struct(">BBHIHB8s8sB")  # 28 bytes
_CREDENTIAL_BODY = struct.Struct(">BBHIIB8s8s33s")  # 62 bytes
_DYNAMIC = struct.Struct(">II")  # 8 bytes


class MalformedCode(ValueError):
    """Not a ride code of a layout we know (truncated, oversized, wrong version or type)."""


@dataclass(frozen=True, slots=True)
class IssuerCode:
    key_number: int
    issued_at: int
    valid_for: int
    scope: int
    account: bytes
    nonce: bytes
    signed: bytes
    signature: bytes
    riders: int = 1  # a group code (type 3) covers 2 or 3

    @property
    def code_key(self) -> str:
        """Identifies this code among all codes (replay checks)."""
        return "1:" + self.nonce.hex()

    @property
    def replay_key(self) -> bytes:
        """`code_key` as bytes, for memories that never leave the process (gates)."""
        return b"\x01" + self.nonce


@dataclass(frozen=True, slots=True)
class DeviceCredential:
    key_number: int
    valid_from: int
    valid_until: int
    scope: int
    account: bytes
    credential_id: bytes
    device_key: bytes
    signed: bytes
    signature: bytes


@dataclass(frozen=True, slots=True)
class DeviceCode:
    credential: DeviceCredential
    code_time: int
    counter: int
    signed: bytes
    signature: bytes

    @property
    def account(self) -> bytes:
        return self.credential.account

    @property
    def code_key(self) -> str:
        return f"2:{self.credential.credential_id.hex()}:{self.counter}"

    @property
    def replay_key(self) -> bytes:
        return b"\x02" + self.credential.credential_id + self.signed[130:134]  # the counter


RideCode = IssuerCode | DeviceCode


def issuer_code_body(
    key_number: int,
    issued_at: int,
    valid_for: int,
    scope: int,
    account: bytes,
    nonce: bytes,
    riders: int = 1,
) -> bytes:
    """The signed part of an issuer code (type 1), or of a group code (type 3) for 2-3 riders."""
    if riders == 1:
        return _ISSUER_BODY.pack(
            VERSION, ISSUER_CODE, key_number, issued_at, valid_for, scope, account, nonce
        )
    if not 2 <= riders <= MAX_RIDERS:
        raise ValueError(f"a code covers 1 to {MAX_RIDERS} riders")
    return _GROUP_BODY.pack(
        VERSION, GROUP_CODE, key_number, issued_at, valid_for, scope, account, nonce, riders
    )


def credential_body(
    key_number: int,
    valid_from: int,
    valid_until: int,
    scope: int,
    account: bytes,
    credential_id: bytes,
    device_key: bytes,
) -> bytes:
    return _CREDENTIAL_BODY.pack(
        VERSION, DEVICE_CODE, key_number, valid_from, valid_until, scope, account, credential_id, device_key
    )


def dynamic_part(code_time: int, counter: int) -> bytes:
    return _DYNAMIC.pack(code_time, counter)


def parse(data: bytes) -> RideCode:
    if len(data) < 2 or data[0] != VERSION:
        raise MalformedCode("unknown version")
    if data[1] == ISSUER_CODE:
        if len(data) != ISSUER_CODE_SIZE:
            raise MalformedCode("wrong length for an issuer code")
        _, _, key_number, issued_at, valid_for, scope, account, nonce = _ISSUER_BODY.unpack_from(data)
        return IssuerCode(key_number, issued_at, valid_for, scope, account, nonce, data[:27], data[27:])
    if data[1] == GROUP_CODE:
        if len(data) != GROUP_CODE_SIZE:
            raise MalformedCode("wrong length for a group code")
        _, _, key_number, issued_at, valid_for, scope, account, nonce, riders = _GROUP_BODY.unpack_from(data)
        if not 2 <= riders <= MAX_RIDERS:
            raise MalformedCode("a group code covers 2 or 3 riders")
        return IssuerCode(
            key_number, issued_at, valid_for, scope, account, nonce, data[:28], data[28:], riders
        )
    if data[1] == DEVICE_CODE:
        if len(data) != DEVICE_CODE_SIZE:
            raise MalformedCode("wrong length for a device code")
        _, _, key_number, valid_from, valid_until, scope, account, credential_id, device_key = (
            _CREDENTIAL_BODY.unpack_from(data)
        )
        credential = DeviceCredential(
            key_number,
            valid_from,
            valid_until,
            scope,
            account,
            credential_id,
            device_key,
            signed=data[:62],
            signature=data[62:126],
        )
        code_time, counter = _DYNAMIC.unpack_from(data, CREDENTIAL_SIZE)
        return DeviceCode(credential, code_time, counter, data[:134], data[134:])
    raise MalformedCode("unknown code type")


def decode_text(payload: str) -> RideCode:
    if not isinstance(payload, str) or len(payload) > MAX_PAYLOAD_TEXT:
        raise MalformedCode("payload too long")
    try:
        data = base45.decode(payload)
    except ValueError as exc:
        raise MalformedCode(str(exc)) from None
    return parse(data)
