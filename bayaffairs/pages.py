"""Cursor pagination: `{"items": [...], "next_cursor": ...}` per the contract."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    next_cursor: str | None

    @classmethod
    def from_rows(cls, rows: Sequence[T], limit: int, key: Callable[[T], str]) -> Page[T]:
        """`rows` were fetched with limit + 1: the extra row only says there is more."""
        if len(rows) > limit:
            return cls(rows[:limit], key(rows[limit - 1]))
        return cls(rows, None)
