"""Base45 (RFC 9285): bytes as text in the QR alphanumeric alphabet.

A QR code stores these 45 characters at 5.5 bits each, so a 198-byte payload (297 characters)
still fits version 10 at error-correction level M, and the QR content is plain text: the API's
`payload` string is exactly what the QR encodes.
"""

from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
# byte -> its value + 1; 0 marks a byte outside the alphabet
_TABLE = bytes(ALPHABET.index(chr(b)) + 1 if chr(b) in ALPHABET else 0 for b in range(256))


def encode(data: bytes) -> str:
    out: list[str] = []
    for i in range(0, len(data) - 1, 2):
        n = data[i] * 256 + data[i + 1]
        n, c = divmod(n, 45)
        e, d = divmod(n, 45)
        out += (ALPHABET[c], ALPHABET[d], ALPHABET[e])
    if len(data) % 2:
        d, c = divmod(data[-1], 45)
        out += (ALPHABET[c], ALPHABET[d])
    return "".join(out)


def _lanes(n: int) -> tuple[int, bytes]:
    """For `n` triples: the sum of 2071 (the +1 of each value) in every 3-byte lane, and n zeros."""
    lanes = _LANES.get(n)
    if lanes is None:
        lanes = _LANES[n] = (int.from_bytes(b"\x00\x08\x17" * n, "big"), bytes(n))
    return lanes


_LANES: dict[int, tuple[int, bytes]] = {}


def decode(text: str) -> bytes:
    """Raises ValueError on characters outside the alphabet or an impossible length or value.

    Table-driven and without a loop in Python (issue 15: the per-triple comprehension was about a
    tenth of the offline drain's Python time). One C-level translate maps characters to values
    + 1; each triple's value a + 45 b + 2025 c is then computed for all triples at once, as the
    3-byte lanes of three big integers (a, b and c spread into lanes by slice assignment): no lane
    can carry into the next (45^3 + 2071 < 2^24), so the lanes are the words, big-endian, with a
    zero top byte unless a word is over 0xFFFF.
    """
    if len(text) % 3 == 1:
        raise ValueError("base45 length")
    try:
        values = text.encode("ascii").translate(_TABLE)
    except UnicodeEncodeError:
        raise ValueError("base45 character") from None
    if 0 in values:
        raise ValueError("base45 character")
    n = len(values) // 3
    full = 3 * n
    ones, zeros = _lanes(n)
    spread = bytearray(full)
    spread[2::3] = values[0:full:3]
    a = int.from_bytes(spread, "big")
    spread[2::3] = values[1:full:3]
    b = int.from_bytes(spread, "big")
    spread[2::3] = values[2:full:3]
    words = (a + b * 45 + int.from_bytes(spread, "big") * 2025 - ones).to_bytes(full, "big")
    if words[0::3] != zeros:
        raise ValueError("base45 value")
    out = bytearray(2 * n)
    out[0::2] = words[1::3]
    out[1::2] = words[2::3]
    if len(values) % 3 == 2:
        last = values[-2] + values[-1] * 45 - 46
        if last > 0xFF:
            raise ValueError("base45 value")
        out.append(last)
    return bytes(out)
