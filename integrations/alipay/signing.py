"""RSA2 signing as the Alipay open platform does it, kept apart from HTTP so it reads (and tests)
on its own.

Requests: sign the parameters sorted by key as `k=v&k=v` (no `sign`, no empty values).
Answers: Alipay signs the exact text of the response member, so we cut that text out of the
body instead of re-serialising the parsed object (which would change spacing and escapes).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

_decoder = json.JSONDecoder()
_WHITESPACE = re.compile(r"[ \t\n\r]*")


def load_private_key(text: str) -> rsa.RSAPrivateKey:
    """An RSA private key as PEM, or the bare base64 (PKCS#8 or PKCS#1) Alipay's tool prints."""
    data = text.strip()
    if data.startswith("-----BEGIN"):
        key = serialization.load_pem_private_key(data.encode(), password=None)
    else:
        key = serialization.load_der_private_key(_b64(data), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA private key")
    return key


def load_public_key(text: str) -> rsa.RSAPublicKey:
    """An RSA public key as PEM, or as the bare base64 the Alipay console shows."""
    data = text.strip()
    if data.startswith("-----BEGIN"):
        key = serialization.load_pem_public_key(data.encode())
    else:
        key = serialization.load_der_public_key(_b64(data))
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("not an RSA public key")
    return key


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except binascii.Error as exc:
        raise ValueError(f"neither PEM nor base64: {exc}") from None


def signing_string(params: Mapping[str, str]) -> str:
    return "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "sign" and v != "")


def sign_params(params: Mapping[str, str], key: rsa.RSAPrivateKey) -> str:
    signature = key.sign(signing_string(params).encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode("ascii")


def verify(text: str, signature: str, key: rsa.RSAPublicKey) -> bool:
    try:
        raw = base64.b64decode(signature, validate=True)
        key.verify(raw, text.encode(), padding.PKCS1v15(), hashes.SHA256())
    except (binascii.Error, InvalidSignature):
        return False
    return True


def raw_members(text: str) -> dict[str, str]:
    """The top-level members of a JSON object, each value as the exact text that was sent.

    Raises ValueError when `text` is not one JSON object.
    """
    pos = _skip(text, 0)
    if text[pos : pos + 1] != "{":
        raise ValueError("not a JSON object")
    members: dict[str, str] = {}
    pos = _skip(text, pos + 1)
    if text[pos : pos + 1] == "}":
        return _finished(text, pos, members)
    while True:
        key, pos = _decoder.raw_decode(text, pos)
        pos = _skip(text, pos)
        if not isinstance(key, str) or text[pos : pos + 1] != ":":
            raise ValueError(f"bad member at {pos}")
        start = _skip(text, pos + 1)
        _, end = _decoder.raw_decode(text, start)
        members[key] = text[start:end]
        pos = _skip(text, end)
        if text[pos : pos + 1] == "}":
            return _finished(text, pos, members)
        if text[pos : pos + 1] != ",":
            raise ValueError(f"expected , or }} at {pos}")
        pos = _skip(text, pos + 1)


def _skip(text: str, pos: int) -> int:
    match = _WHITESPACE.match(text, pos)
    return match.end() if match else pos


def _finished(text: str, closing: int, members: dict[str, str]) -> dict[str, str]:
    if _skip(text, closing + 1) != len(text):
        raise ValueError("data after the JSON object")
    return members
