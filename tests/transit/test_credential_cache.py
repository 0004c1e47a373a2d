"""A device credential's issuer signature is verified once per cache, not once per code (issue 15,
throughput: a device code cost two ECDSA verifications, ~60 µs each). What is remembered is that
these exact credential bytes verified against this exact key: any other key, any altered byte,
and a key revoked since, are judged as without the cache."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from bayaffairs.transit.codes import base45, signatures
from bayaffairs.transit.codes import format as fmt
from bayaffairs.transit.codes import verify as verify_module
from bayaffairs.transit.codes.signatures import compressed, sign
from bayaffairs.transit.codes.verify import DeviceKeyCache, KeySet, Policy, Rejected, VerifyingKey, check

NOW = 1_795_400_000
POLICY = Policy(code_seconds=60, skew_seconds=300)
ISSUER = ec.generate_private_key(ec.SECP256R1())
DEVICE = ec.generate_private_key(ec.SECP256R1())
KEYS = KeySet([VerifyingKey(3, ISSUER.public_key())])


def credential(issuer: ec.EllipticCurvePrivateKey = ISSUER) -> bytes:
    body = fmt.credential_body(
        3, NOW - 3600, NOW + 86400, 0, os.urandom(8), os.urandom(8), compressed(DEVICE.public_key())
    )
    return body + sign(issuer, body)


def device_code(signed_credential: bytes, counter: int) -> str:
    signed = signed_credential + fmt.dynamic_part(NOW, counter)
    return base45.encode(signed + sign(DEVICE, signed))


@pytest.fixture
def issuer_checks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many signatures check() verified with an issuer key (a list, to read after)."""
    count = [0]
    real: Callable[[signatures.PublicKey, bytes, bytes], bool] = signatures.verify

    def counting(key: signatures.PublicKey, signature: bytes, data: bytes) -> bool:
        if key != DEVICE.public_key():
            count[0] += 1
        return real(key, signature, data)

    monkeypatch.setattr(verify_module, "verify", counting)
    return count


def test_a_credential_verifies_once_for_all_its_codes(issuer_checks: list[int]) -> None:
    cache, signed = DeviceKeyCache(), credential()
    for counter in range(3):
        check(device_code(signed, counter), now=NOW, keys=KEYS, scope=4, policy=POLICY, device_keys=cache)
    assert issuer_checks[0] == 1


def test_without_a_cache_every_code_verifies_its_credential(issuer_checks: list[int]) -> None:
    signed = credential()  # the control: the count above is the cache's doing
    for counter in range(3):
        check(device_code(signed, counter), now=NOW, keys=KEYS, scope=4, policy=POLICY)
    assert issuer_checks[0] == 3


def test_a_remembered_credential_counts_only_for_the_key_it_verified_against() -> None:
    cache, signed = DeviceKeyCache(), credential()
    check(device_code(signed, 1), now=NOW, keys=KEYS, scope=4, policy=POLICY, device_keys=cache)
    other = KeySet([VerifyingKey(3, ec.generate_private_key(ec.SECP256R1()).public_key())])
    with pytest.raises(Rejected) as caught:
        check(device_code(signed, 2), now=NOW, keys=other, scope=4, policy=POLICY, device_keys=cache)
    assert caught.value.reason == "bad_signature"


def test_an_altered_or_forged_credential_is_not_taken_for_a_remembered_one() -> None:
    cache, signed = DeviceKeyCache(), credential()
    check(device_code(signed, 1), now=NOW, keys=KEYS, scope=4, policy=POLICY, device_keys=cache)
    body, signature = signed[:-64], signed[-64:]
    stretched = body[:8] + (NOW + 10 * 86400).to_bytes(4, "big") + body[12:]  # a later valid_until
    assert (
        fmt.parse(base45.decode(device_code(stretched + signature, 2))).credential.valid_until > NOW + 86400
    )
    forged = credential(ec.generate_private_key(ec.SECP256R1()))
    for payload in (device_code(stretched + signature, 2), device_code(forged, 3)):
        with pytest.raises(Rejected) as caught:
            check(payload, now=NOW, keys=KEYS, scope=4, policy=POLICY, device_keys=cache)
        assert caught.value.reason == "bad_signature"


def test_a_key_revoked_since_refuses_a_remembered_credential() -> None:
    cache, signed = DeviceKeyCache(), credential()
    check(device_code(signed, 1), now=NOW, keys=KEYS, scope=4, policy=POLICY, device_keys=cache)
    revoked = KeySet([VerifyingKey(3, ISSUER.public_key(), revoked_at=NOW - 1)])
    with pytest.raises(Rejected) as caught:
        check(device_code(signed, 2), now=NOW, keys=revoked, scope=4, policy=POLICY, device_keys=cache)
    assert caught.value.reason == "revoked"
