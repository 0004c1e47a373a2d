"""The audit log of admin and counter actions: who (the credential), what (method and route),
to what (an id, else the path), when, under which request id, and how it was answered (the
status, and a refusal's error code: a desk's typed document not matching is `document_mismatch`).

It is append-only in the database (db/migrations/0026_audit_log.sql: triggers refuse UPDATE,
DELETE and TRUNCATE), so a credential that can act cannot also wipe the trace of it through this
service or the SQL it runs. An entry is written when the answer is known, in its own statement.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bayaffairs.clock import Clock
from bayaffairs.db.queries import audit as q
from bayaffairs.errors import InvalidInput
from bayaffairs.pages import Page
from bayaffairs.storage import Database

AUDITED_KINDS = frozenset({"admin", "counter"})


@dataclass(frozen=True)
class Action:
    actor: str
    actor_kind: str
    scope: str
    action: str
    target: str
    status: int
    request_id: str
    code: str | None = None  # the refusal's error code (document_mismatch, ...), if refused


class AuditLog:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def record(self, action: Action) -> None:
        async with self.db.acquire() as conn:
            await q.insert(
                conn,
                at=self.clock.now(),
                actor=action.actor,
                actor_kind=action.actor_kind,
                scope=action.scope,
                action=action.action,
                target=action.target,
                status=action.status,
                request_id=action.request_id,
                code=action.code,
            )

    async def since(self, since: datetime | None, *, cursor: str | None, limit: int) -> Page[q.AuditRow]:
        """Entries at or after `since` in the order they were written; the cursor continues."""
        if cursor is not None and not cursor.isdigit():
            raise InvalidInput({"cursor": ["not a cursor of this list"]})
        async with self.db.acquire() as conn:
            rows = await q.since(conn, since=since, after_id=int(cursor or 0), limit=limit + 1)
        return Page.from_rows(rows, limit, key=lambda r: str(r.id))
