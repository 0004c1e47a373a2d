"""Document numbers sealed at rest (see `bayaffairs.sealing`), plus a keyed fingerprint.

The fingerprint (HMAC-SHA256 under a key derived from the current key) finds a rider's
duplicate documents without storing the number.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bayaffairs.sealing import Sealer


class DocumentCipher:
    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        self._sealer = Sealer(keys)
        self._fingerprint_key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"bayaffairs document fingerprint"
        ).derive(self._sealer.current_key)

    def encrypt(self, number: str, context: str) -> bytes:
        return self._sealer.seal(number.encode(), context)

    def decrypt(self, blob: bytes, context: str) -> str:
        return self._sealer.open(blob, context).decode()

    def fingerprint(self, doc_type: str, number: str) -> bytes:
        return hmac.new(self._fingerprint_key, f"{doc_type}|{number}".encode(), hashlib.sha256).digest()
