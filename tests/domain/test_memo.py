"""The process memo behind the per-process caches (bayaffairs/memo.py)."""

from __future__ import annotations

import pytest

from bayaffairs.memo import ProcessMemo


def test_a_value_is_made_once_and_a_full_memo_starts_again() -> None:
    memo: ProcessMemo[str, list[str]] = ProcessMemo(2)
    made: list[str] = []

    def make(key: str) -> list[str]:
        made.append(key)
        return [key]

    first = memo.get("a", lambda: make("a"))
    assert memo.get("a", lambda: make("a")) is first and made == ["a"]
    memo.get("b", lambda: make("b"))
    memo.get("c", lambda: make("c"))  # full at two: emptied, then c kept
    assert memo.get("a", lambda: make("a")) is not first
    assert made == ["a", "b", "c", "a"]


def test_nothing_is_kept_when_making_fails() -> None:
    memo: ProcessMemo[str, int] = ProcessMemo(4)

    def fail() -> int:
        raise ValueError("bad settings")

    with pytest.raises(ValueError):
        memo.get("k", fail)
    assert memo.get("k", lambda: 7) == 7
