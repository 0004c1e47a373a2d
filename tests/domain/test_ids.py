"""Ids: 26 Crockford base32 digits, ordered as the values they encode (time first)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bayaffairs.ids import _ALPHABET, encode, new_id


def five_bits_at_a_time(value: int) -> str:
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


@given(st.integers(min_value=0, max_value=2**128 - 1))
def test_encoding_matches_the_plain_definition(value: int) -> None:
    assert encode(value) == five_bits_at_a_time(value)


@given(st.integers(min_value=0, max_value=2**128 - 1), st.integers(min_value=0, max_value=2**128 - 1))
def test_text_order_is_value_order(a: int, b: int) -> None:
    assert (encode(a) < encode(b)) == (a < b)


def test_ids_carry_their_prefix_and_differ() -> None:
    ids = [new_id("bkg") for _ in range(3)]
    assert all(i.startswith("bkg_") and len(i) == 30 for i in ids)
    assert set("".join(i[4:] for i in ids)) <= set(_ALPHABET)
    assert len(set(ids)) == 3
