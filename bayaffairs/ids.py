"""Opaque, time-ordered identifiers such as `usr_01JD3Y...`.

48 bits of milliseconds then 80 random bits, in Crockford base32, behind a short prefix that
says what the id names. Sorting ids sorts by creation time, which keeps B-tree inserts local.
"""

from __future__ import annotations

import secrets
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id(prefix: str) -> str:
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return f"{prefix}_{''.join(reversed(chars))}"
