"""The centres' change numbers, kept in memory per worker while it hears every new one.

Every change to a centre's appointments takes the centre's next change number (`next`), and the
database announces each committed number (migration 0045: NOTIFY appointment_changes). A worker
that listens (`connected` .. `lost`) keeps the newest number it read or heard per centre, so a
counter's If-None-Match, and the cached full day, cost no database read.

What the kept number may miss, and for how long:
- A change by this worker: none. `next` marks the centre as written before the commit, and the
  kept number is not used until a number as new as the written one is heard or read (so the
  desk that checked someone in sees it on its next pull, whichever worker hears it first).
- A change by another worker or process: until this worker hears its NOTIFY (sent at commit; on
  one host well under a millisecond), and never longer than `trust_seconds` after the read that
  confirmed the kept number began (or the NOTIFY that brought it came): a number older than that
  is read again. That bound holds even if the notifications stopped without the session being
  seen to close. So that a busy centre's number does not run out under load (every request in
  flight would then read at once), the first call past half that age starts one read in the
  background and keeps answering with the kept number meanwhile.
- While not listening (the session is down, or this is a command-line process), nothing is kept:
  every call reads the database, as before. A session that comes back starts from nothing, since
  notifications sent meanwhile are lost.
A read that began before the session was lost or came back is not kept (`_epoch`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from bayaffairs.db.queries import appointments as q
from bayaffairs.storage import Connection, Database

log = logging.getLogger("bayaffairs.appointments")
CHANNEL = "appointment_changes"  # migration 0045
TRUST_SECONDS = 1.0  # the longest a kept number is used without a read or a notification


class ChangeNumbers:
    def __init__(
        self,
        db: Database,
        *,
        trust_seconds: float = TRUST_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.trust_seconds = trust_seconds
        self._monotonic = monotonic
        self._known: dict[str, tuple[int, float]] = {}  # centre -> (number, read or heard at)
        self._written: dict[str, int] = {}  # centre -> newest number this worker took, not yet seen
        self._epoch = 0
        self._refreshing: dict[str, asyncio.Future[int]] = {}  # centre -> its background read
        self.live = False

    async def next(self, conn: Connection, centre_id: str) -> int:
        """The centre's next change number, inside the caller's transaction (see q.next_change)."""
        number = await q.next_change(conn, centre_id)
        if number > self._written.get(centre_id, 0):
            self._written[centre_id] = number
        return number

    async def current(self, centre_id: str) -> int:
        """The centre's newest committed change number (within the bounds of the docstring)."""
        kept = self._kept(centre_id)
        if kept is None:
            return await self._read(centre_id)
        number, age = kept
        if age > self.trust_seconds / 2 and centre_id not in self._refreshing:
            refresh = asyncio.ensure_future(self._read(centre_id))
            self._refreshing[centre_id] = refresh
            refresh.add_done_callback(lambda done: self._refreshed(centre_id, done))
        return number

    def kept(self, centre_id: str) -> int | None:
        """The number kept for the centre, if it may be used now."""
        kept = self._kept(centre_id)
        return None if kept is None else kept[0]

    def _kept(self, centre_id: str) -> tuple[int, float] | None:
        """(number, age in seconds) of the kept number, if it may be used now."""
        if not self.live:
            return None
        kept = self._known.get(centre_id)
        if kept is None:
            return None
        number, at = kept
        age = self._monotonic() - at
        if age > self.trust_seconds or self._written.get(centre_id, 0) > number:
            return None
        return number, age

    async def _read(self, centre_id: str) -> int:
        epoch, began = self._epoch, self._monotonic()
        async with self.db.acquire() as conn:
            number = await q.current_change(conn, centre_id)
        if epoch == self._epoch:
            self._learn(centre_id, number, began)
        return number

    def _refreshed(self, centre_id: str, done: asyncio.Future[int]) -> None:
        if self._refreshing.get(centre_id) is done:
            del self._refreshing[centre_id]
        if not done.cancelled() and done.exception() is not None:
            log.warning("change number of %s not refreshed: %r", centre_id, done.exception())

    def heard(self, payload: str) -> None:
        """A NOTIFY: '<centre id>:<number>', committed."""
        centre_id, _, number = payload.rpartition(":")
        if centre_id and number.isdigit():
            self._learn(centre_id, int(number), self._monotonic())

    def connected(self) -> None:
        """The LISTEN session is up: from now on every committed number is heard."""
        self._epoch += 1
        self._known.clear()
        self.live = True

    def lost(self) -> None:
        """The LISTEN session is gone: numbers may be missed, keep none."""
        self._epoch += 1
        self._known.clear()
        self.live = False

    def _learn(self, centre_id: str, number: int, at: float) -> None:
        """`number` was committed as of `at` (when the read that found it began, or the NOTIFY
        came): kept unless a newer number is, and as of the later time when it is the same."""
        if not self.live:
            return
        kept = self._known.get(centre_id)
        if kept is None or number > kept[0] or (number == kept[0] and at > kept[1]):
            self._known[centre_id] = (number, at)
        if self._written.get(centre_id, 0) <= number:
            self._written.pop(centre_id, None)
