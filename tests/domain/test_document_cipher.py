"""Encrypting document numbers at rest, with key rotation."""

from __future__ import annotations

import os

import pytest
from cryptography.exceptions import InvalidTag

from bayaffairs.documents.cipher import DocumentCipher, fingerprint_key_of

OLD = ("k1", os.urandom(32))
NEW = ("k2", os.urandom(32))


def test_round_trip() -> None:
    cipher = DocumentCipher([NEW])
    blob = cipher.encrypt("H12345678", "usr|doc|home_return_permit")
    assert b"H12345678" not in blob
    assert cipher.decrypt(blob, "usr|doc|home_return_permit") == "H12345678"


def test_a_blob_does_not_decrypt_under_another_row() -> None:
    cipher = DocumentCipher([NEW])
    blob = cipher.encrypt("H12345678", "usr_a|doc_1|home_return_permit")
    with pytest.raises(InvalidTag):
        cipher.decrypt(blob, "usr_b|doc_1|home_return_permit")


def test_after_rotation_old_blobs_still_decrypt_and_new_ones_use_the_new_key() -> None:
    old_blob = DocumentCipher([OLD]).encrypt("A123456(3)", "ctx")
    rotated = DocumentCipher([NEW, OLD])
    assert rotated.decrypt(old_blob, "ctx") == "A123456(3)"
    new_blob = rotated.encrypt("A123456(3)", "ctx")
    assert new_blob[2:4] == b"k2"
    with pytest.raises(KeyError):
        DocumentCipher([OLD]).decrypt(new_blob, "ctx")


def test_fingerprints_are_stable_and_keyed() -> None:
    cipher = DocumentCipher([NEW])
    assert cipher.fingerprint("hkid", "A123456(3)") == cipher.fingerprint("hkid", "A123456(3)")
    assert cipher.fingerprint("hkid", "A123456(3)") != cipher.fingerprint("passport", "A123456(3)")
    assert DocumentCipher([OLD]).fingerprint("hkid", "A123456(3)") != cipher.fingerprint("hkid", "A123456(3)")


def test_a_home_return_permits_booklet_number_fingerprints_as_its_card_number() -> None:
    """`M1234567801` is the holder's lifelong `M12345678` plus the count of permits issued."""
    cipher = DocumentCipher([NEW])
    card = cipher.fingerprint("home_return_permit", "M12345678")
    assert cipher.fingerprint("home_return_permit", "M1234567801") == card
    assert cipher.fingerprint("home_return_permit", "M1234567802") == card
    assert cipher.fingerprint("home_return_permit", "M12345679") != card


def test_rotating_the_sealing_key_keeps_every_fingerprint() -> None:
    """The fingerprint key is a secret of its own; its first value is the one the sealing key
    gave before, so a deploy changes no fingerprint."""
    before = DocumentCipher([OLD])  # no fingerprint key: derived from the sealing key, as it was
    first = fingerprint_key_of(OLD)
    deployed = DocumentCipher([OLD], fingerprint_keys=[first])
    rotated = DocumentCipher([NEW, OLD], fingerprint_keys=[first])
    for cipher in (deployed, rotated):
        assert cipher.fingerprint("macao_id", "1234567(8)") == before.fingerprint("macao_id", "1234567(8)")


def test_during_a_fingerprint_key_rotation_both_fingerprints_are_known() -> None:
    old_key, new_key = ("f1", os.urandom(32)), ("f2", os.urandom(32))
    rotating = DocumentCipher([NEW], fingerprint_keys=[new_key, old_key])
    old = DocumentCipher([NEW], fingerprint_keys=[old_key]).fingerprint("hkid", "A123456(3)")
    new = DocumentCipher([NEW], fingerprint_keys=[new_key]).fingerprint("hkid", "A123456(3)")
    assert rotating.fingerprint("hkid", "A123456(3)") == new
    assert rotating.fingerprints("hkid", "A123456(3)") == [new, old]
