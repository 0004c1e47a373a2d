"""The deny list: accounts, device credentials and compromised keys gates must refuse.

Kept as an append-only log so gates download only what changed since their cursor; the
cursor is the sequence number of the last change they have.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bayaffairs.clock import Clock
from bayaffairs.db.queries import deny_list as q
from bayaffairs.db.queries.deny_list import DenyChange
from bayaffairs.errors import InvalidInput
from bayaffairs.storage import Connection, Database

KINDS = ("account", "credential", "key")
MAX_PAGE = 5000
_PAGE = re.compile(r"(\d{1,19}):(account|credential|key):([A-Za-z0-9_-]{1,64})")


@dataclass(frozen=True)
class Delta:
    changes: list[DenyChange]
    next_cursor: int
    complete: bool


@dataclass(frozen=True)
class Snapshot:
    """The entries on the list as of change `cursor` (continue with deltas since it); a page
    token `next_page` while more entries of that same instant remain."""

    entries: list[DenyChange]
    next_cursor: int
    complete: bool
    next_page: str | None


def page_token(as_of: int, last: DenyChange) -> str:
    return f"{as_of}:{last.kind}:{last.value}"


def parse_page(token: str) -> tuple[int, tuple[str, str]]:
    found = _PAGE.fullmatch(token)
    if found is None:
        raise InvalidInput({"page": ["not a page token this service gave"]})
    return int(found[1]), (found[2], found[3])


class DenyList:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def change(self, kind: str, value: str, action: str, reason: str | None = None) -> int:
        """Append a change that takes effect now (by the service's clock)."""
        if kind not in KINDS or action not in ("add", "remove"):
            raise InvalidInput({"kind": [f"one of {', '.join(KINDS)}"]})
        async with self.db.transaction() as conn:
            return await self.append(conn, kind, value, action, reason)

    async def append(self, conn: Connection, kind: str, value: str, action: str, reason: str | None) -> int:
        """`change` inside the caller's transaction."""
        return await q.append(conn, kind, value, action, reason, self.clock.now())

    async def snapshot(self, page: str | None, limit: int = MAX_PAGE) -> Snapshot:
        async with self.db.acquire() as conn:
            if page is None:
                as_of, after = await q.last_seq(conn), ("", "")
            else:
                as_of, after = parse_page(page)
            entries = await q.snapshot(conn, as_of, after, limit, self.clock.now())
        complete = len(entries) < limit
        return Snapshot(entries, as_of, complete, None if complete else page_token(as_of, entries[-1]))

    async def since(self, cursor: int, limit: int = MAX_PAGE) -> Delta:
        async with self.db.acquire() as conn:
            changes = await q.changes_since(conn, cursor, limit)
        next_cursor = changes[-1].seq if changes else cursor
        return Delta(changes, next_cursor, len(changes) < limit)
