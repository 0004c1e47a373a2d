"""Document number formats, check digits and masking."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bayaffairs.documents import rules


@pytest.mark.parametrize(
    ("doc_type", "given_number", "normalised"),
    [
        ("hkid", "A123456(3)", "A123456(3)"),
        ("hkid", "a1234563", "A123456(3)"),
        ("hkid", "Z683771(A)", "Z683771(A)"),
        ("hkid", "AB987654(3)", "AB987654(3)"),
        ("mainland_id", "11010519491231002X", "11010519491231002X"),
        ("mainland_id", "11010519491231002x", "11010519491231002X"),
        ("macao_id", "1234567(8)", "1234567(8)"),
        ("home_return_permit", "H12345678", "H12345678"),
        ("exit_entry_permit", "CA1234567", "CA1234567"),
        ("passport", "k 1234 5678", "K12345678"),
    ],
)
def test_valid_numbers_are_normalised(doc_type: str, given_number: str, normalised: str) -> None:
    assert rules.normalise(doc_type, given_number) == normalised


@pytest.mark.parametrize(
    ("doc_type", "number"),
    [
        ("hkid", "A123456(4)"),
        ("hkid", "1234567"),
        ("mainland_id", "110105194912310021"),
        ("macao_id", "2234567(8)"),
        ("home_return_permit", "X12345678"),
        ("exit_entry_permit", "D12345678"),
        ("passport", "AB-1"),
    ],
)
def test_invalid_numbers_are_refused(doc_type: str, number: str) -> None:
    with pytest.raises(ValueError):
        rules.normalise(doc_type, number)


def test_hkid_check_digit_follows_the_published_example() -> None:
    # The worked example commonly used for the HKID check digit: A123456(3).
    assert rules._hkid_check("A", "123456") == "3"


@given(st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ0123456789()", min_size=5, max_size=20))
def test_masking_hides_all_but_three_characters(number: str) -> None:
    if sum(c.isalnum() for c in number) < 5:
        return
    masked = rules.mask(number)
    assert len(masked) == len(number)
    shown = [c for c in masked if c.isalnum()]
    assert len(shown) <= 3
    assert masked[0] == number[0] or not number[0].isalnum()
