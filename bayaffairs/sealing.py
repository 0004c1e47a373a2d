"""Sealing secrets at rest with AES-256-GCM under configured keys.

Sealed form: version byte 1, key-id length, key id, 12-byte nonce, ciphertext+tag. The
associated data (`context`) binds a sealed value to where it is stored, so a value copied into
another row does not open. Several keys may be configured: the first seals, all open.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_VERSION = 1


class Sealer:
    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        self.current_id, self.current_key = keys[0]
        self._keys = {key_id: AESGCM(key) for key_id, key in keys}

    def seal(self, plain: bytes, context: str) -> bytes:
        nonce = os.urandom(12)
        key_id = self.current_id.encode()
        sealed = self._keys[self.current_id].encrypt(nonce, plain, context.encode())
        return bytes([_VERSION, len(key_id)]) + key_id + nonce + sealed

    def open(self, blob: bytes, context: str) -> bytes:
        """Raises KeyError for an unknown key id, cryptography's InvalidTag for a wrong context."""
        if not blob or blob[0] != _VERSION:
            raise ValueError("unknown sealed value version")
        id_len = blob[1]
        key_id = blob[2 : 2 + id_len].decode()
        nonce = blob[2 + id_len : 14 + id_len]
        return self._keys[key_id].decrypt(nonce, blob[14 + id_len :], context.encode())
