"""Encrypting document numbers at rest, with key rotation."""

from __future__ import annotations

import os

import pytest
from cryptography.exceptions import InvalidTag

from bayaffairs.documents.cipher import DocumentCipher

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
