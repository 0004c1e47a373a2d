"""Base45 (RFC 9285): bytes as text in the QR alphanumeric alphabet.

A QR code stores these 45 characters at 5.5 bits each, so a 198-byte payload (297 characters)
still fits version 10 at error-correction level M, and the QR content is plain text: the API's
`payload` string is exactly what the QR encodes.
"""

from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}


def encode(data: bytes) -> str:
    out = []
    for i in range(0, len(data) - 1, 2):
        n = data[i] * 256 + data[i + 1]
        n, c = divmod(n, 45)
        e, d = divmod(n, 45)
        out += (ALPHABET[c], ALPHABET[d], ALPHABET[e])
    if len(data) % 2:
        d, c = divmod(data[-1], 45)
        out += (ALPHABET[c], ALPHABET[d])
    return "".join(out)


def decode(text: str) -> bytes:
    """Raises ValueError on characters outside the alphabet or an impossible length or value."""
    if len(text) % 3 == 1:
        raise ValueError("base45 length")
    try:
        values = [_VALUE[c] for c in text]
    except KeyError:
        raise ValueError("base45 character") from None
    out = bytearray()
    for i in range(0, len(values) - 2, 3):
        n = values[i] + values[i + 1] * 45 + values[i + 2] * 2025
        if n > 0xFFFF:
            raise ValueError("base45 value")
        out += n.to_bytes(2, "big")
    if len(values) % 3 == 2:
        n = values[-2] + values[-1] * 45
        if n > 0xFF:
            raise ValueError("base45 value")
        out.append(n)
    return bytes(out)
