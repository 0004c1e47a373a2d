"""The deny list: accounts, device credentials and compromised keys gates must refuse.

Kept as an append-only log so gates download only what changed since their cursor; the
cursor is the sequence number of the last change they have.
"""

from __future__ import annotations

from dataclasses import dataclass

from bayaffairs.db.queries import deny_list as q
from bayaffairs.db.queries.deny_list import DenyChange
from bayaffairs.errors import InvalidInput
from bayaffairs.storage import Database

KINDS = ("account", "credential", "key")
MAX_PAGE = 5000


@dataclass(frozen=True)
class Delta:
    changes: list[DenyChange]
    next_cursor: int
    complete: bool


class DenyList:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def change(self, kind: str, value: str, action: str, reason: str | None = None) -> int:
        if kind not in KINDS or action not in ("add", "remove"):
            raise InvalidInput({"kind": [f"one of {', '.join(KINDS)}"]})
        async with self.db.transaction() as conn:
            return await q.append(conn, kind, value, action, reason)

    async def since(self, cursor: int, limit: int = MAX_PAGE) -> Delta:
        async with self.db.acquire() as conn:
            changes = await q.changes_since(conn, cursor, limit)
        next_cursor = changes[-1].seq if changes else cursor
        return Delta(changes, next_cursor, len(changes) < limit)
