"""The encoded full-day lists of counters, kept in process per (centre, day, language).

A full day list changes only when the centre's change number does (every change to a centre's
appointments takes the next number), so a body is stored with the change number it reflects and
served again only to a request that read that same number: a changed centre is a miss, never a
stale answer. One body per centre-day and language is kept, the newest: an older change number is
never current again. Bounded in bytes, least recently used out first; each worker process has its
own (the key is the database's number, so workers need not agree on anything).

Next to a body its gzip form is kept once a client asked for it (a counter's client sends
Accept-Encoding: gzip): compressed once per change number, at level 1, since a day of 2,000
appointments (~0.7 MB) shrinks about twentyfold at any level and level 1 is the fastest (a few
milliseconds against ~40 at level 6).
"""

from __future__ import annotations

import asyncio
import gzip
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date

MAX_BYTES = 32 * 1024 * 1024  # ~45 centre-days of 2,000 appointments (~0.7 MB each)
GZIP_LEVEL = 1

Key = tuple[str, date, str]  # centre, day, language
Build = Callable[[], Awaitable[tuple[int, bytes]]]  # the day read and encoded: (change number, body)


@dataclass(slots=True, eq=False)
class Kept:
    key: Key
    change: int
    body: bytes
    gzipped: bytes | None = None  # the body's gzip form, made on the first request for it

    @property
    def size(self) -> int:
        return len(self.body) + len(self.gzipped or b"")


def compress(body: bytes) -> bytes:
    """The gzip form of a body (no timestamp in it: the same body always gives the same bytes)."""
    return gzip.compress(body, GZIP_LEVEL, mtime=0)


class DayBodies:
    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self.max_body_bytes = max_bytes // 4  # one huge day must not push out every other
        self.bytes = 0
        self._bodies: OrderedDict[Key, Kept] = OrderedDict()
        self._building: dict[Key, asyncio.Future[tuple[int, bytes]]] = {}

    def __len__(self) -> int:
        return len(self._bodies)

    def get(self, centre_id: str, day: date, language: str, change: int) -> Kept | None:
        """The day as of change number `change`, if that is the one kept."""
        key = (centre_id, day, language)
        kept = self._bodies.get(key)
        if kept is None or kept.change != change:
            return None
        self._bodies.move_to_end(key)
        return kept

    def put(self, centre_id: str, day: date, language: str, change: int, body: bytes) -> Kept | None:
        """Keep `body` as the day as of `change`, unless a newer one is kept already (None: not
        kept, a newer one is or the body is too large)."""
        key = (centre_id, day, language)
        kept = self._bodies.get(key)
        if kept is not None:
            if kept.change > change:
                return None
            self.bytes -= self._bodies.pop(key).size
        if len(body) > self.max_body_bytes:
            return None
        kept = self._bodies[key] = Kept(key, change, body)
        self.bytes += kept.size
        self._trim()
        return kept

    async def build_once(
        self, centre_id: str, day: date, language: str, at_least: int, build: Build
    ) -> tuple[int, bytes]:
        """(change number, body) of the day from `build`, shared by the requests that miss it
        at the same time (when a centre's number moves, every counter polling it misses at once).
        A request joins a build already running for the same day only if that build's number
        is at least `at_least`, the one the request read; else it builds its own."""
        key = (centre_id, day, language)
        running = self._building.get(key)
        if running is not None:
            change, body = await asyncio.shield(running)
            if change >= at_least:
                return change, body
        building = asyncio.ensure_future(build())
        self._building[key] = building
        building.add_done_callback(lambda done: self._built(key, done))
        return await asyncio.shield(building)

    def _built(self, key: Key, done: asyncio.Future[tuple[int, bytes]]) -> None:
        if self._building.get(key) is done:
            del self._building[key]
        if not done.cancelled():
            done.exception()  # retrieved here too: every waiter may have gone

    def gzipped(self, kept: Kept) -> bytes:
        """The gzip form of a kept day, compressed on the first call."""
        if kept.gzipped is None:
            kept.gzipped = compress(kept.body)
            if self._bodies.get(kept.key) is kept:  # still kept: its bytes count
                self.bytes += len(kept.gzipped)
                self._trim()
        return kept.gzipped

    def _trim(self) -> None:
        while self.bytes > self.max_bytes:
            _, dropped = self._bodies.popitem(last=False)
            self.bytes -= dropped.size
