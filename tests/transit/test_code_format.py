"""The ride-code layout and its checks, against fixed test vectors (docs/ride-codes.md)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st

from bayaffairs.transit.codes import base45
from bayaffairs.transit.codes import format as fmt
from bayaffairs.transit.codes.signatures import sign
from bayaffairs.transit.codes.verify import KeySet, Policy, Rejected, VerifyingKey, check

VECTORS = json.loads((Path(__file__).parent / "vectors.json").read_text())
ISSUER_KEY = ec.EllipticCurvePublicKey.from_encoded_point(
    ec.SECP256R1(), bytes.fromhex(VECTORS["issuer_public_key_hex"])
)
KEYS = KeySet([VerifyingKey(3, ISSUER_KEY)])
POLICY = Policy(code_seconds=60, skew_seconds=300)
ISSUER_CODE = VECTORS["issuer_code"]
DEVICE_CODE = VECTORS["device_code"]


def checked(payload: str, now: int, scope: int = 4, keys: KeySet = KEYS):
    return check(payload, now=now, keys=keys, scope=scope, policy=POLICY)


def test_issuer_code_vector_parses_to_its_fields() -> None:
    code = fmt.decode_text(ISSUER_CODE["payload"])
    assert isinstance(code, fmt.IssuerCode)
    assert base45.decode(ISSUER_CODE["payload"]).hex() == ISSUER_CODE["bytes_hex"]
    assert (code.key_number, code.issued_at, code.valid_for, code.scope) == (3, 1795392000, 60, 4)
    assert code.account.hex() == ISSUER_CODE["account_hex"] and code.code_key == ISSUER_CODE["code_key"]
    assert len(base45.decode(ISSUER_CODE["payload"])) == fmt.ISSUER_CODE_SIZE == 91


def test_device_code_vector_parses_to_its_fields() -> None:
    code = fmt.decode_text(DEVICE_CODE["payload"])
    assert isinstance(code, fmt.DeviceCode)
    assert code.credential.device_key.hex() == VECTORS["device_public_key_hex"]
    assert (code.code_time, code.counter, code.code_key) == (1795395600, 42, DEVICE_CODE["code_key"])
    assert len(base45.decode(DEVICE_CODE["payload"])) == fmt.DEVICE_CODE_SIZE == 198 <= 200


def test_both_vectors_verify_in_their_window() -> None:
    assert checked(ISSUER_CODE["payload"], now=1795392030).code_key == ISSUER_CODE["code_key"]
    verified = checked(DEVICE_CODE["payload"], now=1795395620)
    assert verified.credential_id is not None and verified.credential_id.hex() == "a1a2a3a4a5a6a7a8"


@pytest.mark.parametrize(
    ("now", "reason"),
    [(1795392000 - 301, "not_yet_valid"), (1795392000 + 60 + 301, "expired")],
)
def test_issuer_code_outside_window_and_skew(now: int, reason: str) -> None:
    with pytest.raises(Rejected) as caught:
        checked(ISSUER_CODE["payload"], now=now)
    assert caught.value.reason == reason


def test_clock_skew_within_tolerance_is_accepted() -> None:
    checked(ISSUER_CODE["payload"], now=1795392000 - 299)
    checked(ISSUER_CODE["payload"], now=1795392000 + 60 + 299)


def test_device_code_older_than_its_code_window_is_expired() -> None:
    with pytest.raises(Rejected) as caught:
        checked(DEVICE_CODE["payload"], now=1795395600 + 60 + 301)
    assert caught.value.reason == "expired"


def test_flipping_any_bit_is_refused() -> None:
    for vector in (ISSUER_CODE, DEVICE_CODE):
        data = bytearray(bytes.fromhex(vector["bytes_hex"]))
        for position in range(len(data)):
            forged = bytearray(data)
            forged[position] ^= 0x01
            with pytest.raises(Rejected) as caught:
                checked(base45.encode(bytes(forged)), now=1795395620, scope=4)
            assert caught.value.reason in {"bad_signature", "malformed", "unknown_key", "wrong_scope"}, (
                position
            )


def test_truncated_oversized_and_garbage_payloads_are_malformed() -> None:
    good = bytes.fromhex(ISSUER_CODE["bytes_hex"])
    for payload in (
        base45.encode(good[:-1]),
        base45.encode(good + b"\x00"),
        "x" * 5000,
        "",
        "lower case is not base45",
        base45.encode(b"\x02" + good[1:]),
        base45.encode(b"\x01\x09" + good[2:]),
        ":::",
    ):
        with pytest.raises(Rejected) as caught:
            checked(payload, now=1795392030)
        assert caught.value.reason == "malformed", payload[:20]


def test_an_unknown_key_number_is_unknown_key() -> None:
    with pytest.raises(Rejected) as caught:
        checked(ISSUER_CODE["payload"], now=1795392030, keys=KeySet([VerifyingKey(4, ISSUER_KEY)]))
    assert caught.value.reason == "unknown_key"


def test_a_revoked_key_is_revoked() -> None:
    with pytest.raises(Rejected) as caught:
        checked(
            ISSUER_CODE["payload"], now=1795392030, keys=KeySet([VerifyingKey(3, ISSUER_KEY, revoked=True)])
        )
    assert caught.value.reason == "revoked"


def test_a_code_for_another_city_is_wrong_scope_and_scope_zero_is_everywhere() -> None:
    with pytest.raises(Rejected) as caught:
        checked(ISSUER_CODE["payload"], now=1795392030, scope=1)
    assert caught.value.reason == "wrong_scope"
    checked(DEVICE_CODE["payload"], now=1795395620, scope=1)  # its credential has scope 0


def test_a_device_code_signed_by_another_device_is_refused() -> None:
    data = bytes.fromhex(DEVICE_CODE["bytes_hex"])
    stranger = ec.generate_private_key(ec.SECP256R1())
    forged = data[:134] + sign(stranger, data[:134])
    with pytest.raises(Rejected) as caught:
        checked(base45.encode(forged), now=1795395620)
    assert caught.value.reason == "bad_signature"


def test_a_stripped_device_signature_is_refused() -> None:
    data = bytes.fromhex(DEVICE_CODE["bytes_hex"])
    with pytest.raises(Rejected):
        checked(base45.encode(data[:134] + bytes(64)), now=1795395620)


@given(st.binary(max_size=300))
def test_base45_round_trips(data: bytes) -> None:
    assert base45.decode(base45.encode(data)) == data


@given(st.text(max_size=400))
def test_any_text_is_a_deny_never_a_crash(text: str) -> None:
    try:
        checked(text, now=1795392030)
    except Rejected as exc:
        assert exc.reason in {
            "malformed",
            "bad_signature",
            "unknown_key",
            "wrong_scope",
            "expired",
            "not_yet_valid",
        }


def test_random_bytes_of_the_right_length_are_refused() -> None:
    for size in (fmt.ISSUER_CODE_SIZE, fmt.DEVICE_CODE_SIZE):
        data = b"\x01" + (b"\x01" if size == 91 else b"\x02") + b"\x00\x03" + os.urandom(size - 4)
        with pytest.raises(Rejected):
            checked(base45.encode(data), now=1795392030)
