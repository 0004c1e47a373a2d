"""The encoded full-day lists of counters, kept in process per (centre, day, language).

A full day list changes only when the centre's change number does (every change to a centre's
appointments takes the next number), so a body is stored with the change number it reflects and
served again only to a request that read that same number: a changed centre is a miss, never a
stale answer. One body per centre-day and language is kept, the newest: an older change number is
never current again. Bounded in bytes, least recently used out first; each worker process has its
own (the key is the database's number, so workers need not agree on anything).
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import date

MAX_BYTES = 32 * 1024 * 1024  # ~45 centre-days of 2,000 appointments (~0.7 MB each)

Key = tuple[str, date, str]  # centre, day, language


class DayBodies:
    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self.max_body_bytes = max_bytes // 4  # one huge day must not push out every other
        self.bytes = 0
        self._bodies: OrderedDict[Key, tuple[int, bytes]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._bodies)

    def get(self, centre_id: str, day: date, language: str, change: int) -> bytes | None:
        """The body of the day as of change number `change`, if that is the one kept."""
        key = (centre_id, day, language)
        kept = self._bodies.get(key)
        if kept is None or kept[0] != change:
            return None
        self._bodies.move_to_end(key)
        return kept[1]

    def put(self, centre_id: str, day: date, language: str, change: int, body: bytes) -> None:
        """Keep `body` as the day as of `change`, unless a newer one is kept already."""
        key = (centre_id, day, language)
        kept = self._bodies.get(key)
        if kept is not None:
            if kept[0] > change:
                return
            self.bytes -= len(self._bodies.pop(key)[1])
        if len(body) > self.max_body_bytes:
            return
        self._bodies[key] = (change, body)
        self.bytes += len(body)
        while self.bytes > self.max_bytes:
            _, (_, dropped) = self._bodies.popitem(last=False)
            self.bytes -= len(dropped)
