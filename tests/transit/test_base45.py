"""Base45 (RFC 9285) decoding, against a plain reading of the RFC (issue 15: the decoder computes
all triples at once as lanes of big integers, which must change nothing it accepts or refuses)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bayaffairs.transit.codes import base45


def reference(text: str) -> bytes:
    """RFC 9285, section 4.2, one group at a time."""
    if len(text) % 3 == 1:
        raise ValueError("length")
    if any(ch not in base45.ALPHABET for ch in text):
        raise ValueError("character")
    values = [base45.ALPHABET.index(ch) for ch in text]
    out = bytearray()
    for i in range(0, len(values), 3):
        group = values[i : i + 3]
        n = sum(v * 45**k for k, v in enumerate(group))
        if n > (0xFFFF if len(group) == 3 else 0xFF):
            raise ValueError("value")
        out += n.to_bytes(2 if len(group) == 3 else 1, "big")
    return bytes(out)


def decoded(text: str) -> bytes | None:
    try:
        return base45.decode(text)
    except ValueError:
        return None


def referenced(text: str) -> bytes | None:
    try:
        return reference(text)
    except ValueError:
        return None


def test_the_rfc_examples() -> None:
    assert base45.decode("BB8") == b"AB"
    assert base45.decode("%69 VD92EX0") == b"Hello!!"
    assert base45.decode("UJCLQE7W581") == b"base-45"
    assert base45.decode("QED8WEX0") == b"ietf!"
    assert base45.decode("") == b""


@given(st.binary(max_size=300))
def test_decoding_undoes_encoding(data: bytes) -> None:
    assert base45.decode(base45.encode(data)) == data


@given(st.text(alphabet=base45.ALPHABET, max_size=40))
def test_any_text_of_the_alphabet_decodes_as_the_rfc_says_or_is_refused_alike(text: str) -> None:
    assert decoded(text) == referenced(text)


@pytest.mark.parametrize(
    "text",
    [
        "GGW",  # 65535 + 1: the smallest triple over two bytes
        "::::::",  # the largest triples
        "BB8GGW",  # a good triple, then one over
        "GGWBB8",  # one over, then a good one
        "BB8:",  # a length of 3k + 1
        "BB8:::BB8",
        "BB8::",  # a last pair over one byte (44 + 44 x 45)
        "BB8bb8",  # lower case
        "BB8\u00e9B8",  # not ASCII
    ],
)
def test_values_over_range_and_foreign_characters_are_refused(text: str) -> None:
    assert referenced(text) is None
    with pytest.raises(ValueError):
        base45.decode(text)


def test_the_largest_triple_in_range_decodes() -> None:
    assert base45.decode("FGW") == b"\xff\xff" == reference("FGW")
