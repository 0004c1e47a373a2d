"""How far behind charging, refunding and deciding offline taps are (ride now, pay later): what
an operator's finance team and the on-call engineer watch and alert on (/metrics)."""

from __future__ import annotations

from bayaffairs.clock import Clock
from bayaffairs.db.queries import backlog as q
from bayaffairs.db.queries.backlog import BacklogFigures, Pile
from bayaffairs.storage import Database

__all__ = ["Backlog", "BacklogFigures", "Pile"]


class Backlog:
    """Reads the backlog as the jobs would see it: a journey is due for its charge when the
    charging job (charging.py, with the same `hold_seconds` and `stale_seconds`) would take it."""

    def __init__(self, db: Database, clock: Clock, *, hold_seconds: int, stale_seconds: int) -> None:
        self.db = db
        self.clock = clock
        self.hold_seconds = hold_seconds
        self.stale_seconds = stale_seconds

    async def read(self, limit: int) -> BacklogFigures:
        """The figures now, each count stopping at `limit`."""
        async with self.db.acquire() as conn:
            return await q.backlog(
                conn,
                limit=limit,
                hold_seconds=self.hold_seconds,
                stale_seconds=self.stale_seconds,
                at=self.clock.now(),
            )
