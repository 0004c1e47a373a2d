"""Document numbers are encrypted at rest with AES-256-GCM.

Stored form: version byte 1, key-id length, key id, 12-byte nonce, ciphertext+tag. The
associated data binds a ciphertext to its row (user, document id, type), so a number copied into
another row does not decrypt. Several keys may be configured: the first encrypts, all decrypt.
A keyed fingerprint (HMAC-SHA256 under a key derived from the first key) finds duplicates
without storing the number.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Sequence

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION = 1


class DocumentCipher:
    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        if not keys:
            raise ValueError("at least one document key is needed")
        self._current_id, current = keys[0]
        self._keys = {key_id: AESGCM(key) for key_id, key in keys}
        self._fingerprint_key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"bayaffairs document fingerprint"
        ).derive(current)

    def encrypt(self, number: str, context: str) -> bytes:
        nonce = os.urandom(12)
        key_id = self._current_id.encode()
        sealed = self._keys[self._current_id].encrypt(nonce, number.encode(), context.encode())
        return bytes([_VERSION, len(key_id)]) + key_id + nonce + sealed

    def decrypt(self, blob: bytes, context: str) -> str:
        if not blob or blob[0] != _VERSION:
            raise ValueError("unknown document ciphertext version")
        id_len = blob[1]
        key_id = blob[2 : 2 + id_len].decode()
        nonce = blob[2 + id_len : 14 + id_len]
        sealed = blob[14 + id_len :]
        return self._keys[key_id].decrypt(nonce, sealed, context.encode()).decode()

    def fingerprint(self, doc_type: str, number: str) -> bytes:
        return hmac.new(self._fingerprint_key, f"{doc_type}|{number}".encode(), hashlib.sha256).digest()
