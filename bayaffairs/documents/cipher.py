"""Document numbers sealed at rest (see `bayaffairs.sealing`), plus a keyed fingerprint.

The fingerprint (HMAC-SHA256 of the type and the holder's part of the number, see
`rules.person_number`) finds the same document, whoever holds it, without storing the number:
a rider's duplicate documents, one seat per document on a departure, one quota per person.
So it must not change when the sealing keys rotate: its key is a secret of its own,
`[secrets] fingerprint_keys` (the first one fingerprints; the ones after it are a rotation's
old keys, known until `bayaffairs documents refingerprint` has rewritten every stored
fingerprint). Its first value is what the sealing key gave before it was a secret of its own
(`fingerprint_key_of`, printed by `bayaffairs keys fingerprint-key`), so setting it changes no
fingerprint; while it is not set, that derivation of the current sealing key is used, as before.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bayaffairs.documents import rules
from bayaffairs.sealing import Sealer


def fingerprint_key_of(sealing_key: tuple[str, bytes]) -> tuple[str, bytes]:
    """The fingerprint key a sealing key gave (HKDF-SHA256, the same key id): the first value of
    `[secrets] fingerprint_keys` for a deployment whose fingerprints were made under it."""
    key_id, material = sealing_key
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"bayaffairs document fingerprint"
    ).derive(material)
    return key_id, derived


class DocumentCipher:
    def __init__(
        self, keys: Sequence[tuple[str, bytes]], fingerprint_keys: Sequence[tuple[str, bytes]] = ()
    ) -> None:
        """`fingerprint_keys`: the first fingerprints, the rest are a rotation's old ones;
        empty: the current sealing key's derivation (deployments from before the secret)."""
        self._sealer = Sealer(keys)
        ring = list(fingerprint_keys) or [
            fingerprint_key_of((self._sealer.current_id, self._sealer.current_key))
        ]
        self.fingerprint_key_id = ring[0][0]
        self._fingerprint_keys = [key for _, key in ring]

    def encrypt(self, number: str, context: str) -> bytes:
        return self._sealer.seal(number.encode(), context)

    def decrypt(self, blob: bytes, context: str) -> str:
        return self._sealer.open(blob, context).decode()

    def fingerprint(self, doc_type: str, number: str) -> bytes:
        """Under the current fingerprint key, of a normalised number."""
        return self._fingerprint(self._fingerprint_keys[0], doc_type, number)

    def fingerprints(self, doc_type: str, number: str) -> list[bytes]:
        """Under every configured fingerprint key, the current one first: during a rotation,
        what the number's fingerprint is now and what it was."""
        return [self._fingerprint(key, doc_type, number) for key in self._fingerprint_keys]

    @staticmethod
    def _fingerprint(key: bytes, doc_type: str, number: str) -> bytes:
        message = f"{doc_type}|{rules.person_number(doc_type, number)}".encode()
        return hmac.new(key, message, hashlib.sha256).digest()
