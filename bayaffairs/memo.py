"""A bounded memo kept for the life of a process.

What several apps of one process (the tests start hundreds) would otherwise build again from the
same inputs: an adapter's loaded settings, a config file's parsed tables, a through-fare rule,
an app's OpenAPI document. Values are shared, so they are read-only to their callers.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class ProcessMemo(Generic[K, V]):
    """Values by key, each made once. Emptied whole once it holds `most`: one process's inputs
    are few, so a full memo means inputs that keep changing, none of them worth keeping."""

    def __init__(self, most: int) -> None:
        self.most = most
        self._values: dict[K, V] = {}

    def get(self, key: K, make: Callable[[], V]) -> V:
        """The value of `key`, made by `make` the first time (nothing is kept if it raises)."""
        try:
            return self._values[key]
        except KeyError:
            pass
        value = make()
        if len(self._values) >= self.most:
            self._values.clear()
        self._values[key] = value
        return value
