"""Idempotency-Key semantics for creating requests.

Keyed by principal and key. The first request claims the key (in flight) and runs; its answer
is stored and replayed, same status and body, to any retry with the same body. A retry with a
different body gets 422; one arriving while the first still runs gets 409. An in-flight claim
whose holder died is taken over after `lease_seconds`. Answers that say "try again" (409, 429,
5xx) are not kept: the key is released so that a retry does the work. Records live at least
`retention_hours` (24 h by default).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from bayaffairs.config.settings import IdempotencySettings
from bayaffairs.db.queries import idempotency as q
from bayaffairs.errors import Conflict, InvalidInput, Unprocessable
from bayaffairs.storage import Database

MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class StoredAnswer:
    status: int
    body: bytes
    content_type: str


def fingerprint(method: str, path: str, body: bytes) -> bytes:
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.digest()


def check_key(key: str) -> str:
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not all(33 <= ord(c) <= 126 for c in key):
        raise InvalidInput(
            {"Idempotency-Key": ["1 to 255 visible ASCII characters"]}, "invalid_idempotency_key"
        )
    return key


def is_kept(status: int) -> bool:
    """Whether an answer is final enough to replay."""
    return status < 500 and status not in (409, 429)


class IdempotencyKeys:
    def __init__(self, db: Database, settings: IdempotencySettings) -> None:
        self.db = db
        self.settings = settings

    async def begin(self, principal: str, key: str, print_: bytes) -> StoredAnswer | None:
        """None: go ahead and do the work. A StoredAnswer: replay it instead."""
        lease, keep = self.settings.lease_seconds, self.settings.retention_hours
        async with self.db.acquire() as conn:
            if await q.claim(conn, principal, key, print_, lease, keep):
                return None  # the common case: one statement, no explicit transaction
        async with self.db.transaction() as conn:
            row = await q.get_for_update(conn, principal, key)
            if row is None or row.record_expired:
                if row is None:
                    await q.claim(conn, principal, key, print_, lease, keep)
                else:
                    await q.restart(conn, principal, key, print_, lease, keep)
                return None
            if row.fingerprint != print_:
                raise Unprocessable("idempotency_key_reused")
            if row.state == "done":
                assert row.status is not None and row.body is not None
                return StoredAnswer(row.status, row.body, row.content_type or "application/json")
            if not row.lease_expired:
                raise Conflict("idempotency_key_in_use", details={"retry_after": 1})
            await q.restart(conn, principal, key, print_, lease, keep)
            return None

    async def finish(self, principal: str, key: str, answer: StoredAnswer) -> None:
        async with self.db.acquire() as conn:
            if is_kept(answer.status):
                await q.complete(conn, principal, key, answer.status, answer.body, answer.content_type)
            else:
                await q.release(conn, principal, key)

    async def abandon(self, principal: str, key: str) -> None:
        async with self.db.acquire() as conn:
            await q.release(conn, principal, key)

    async def purge_expired(self) -> int:
        async with self.db.acquire() as conn:
            return await q.purge_expired(conn)
