"""The deny list as an append-only log: gates fetch what changed since their cursor."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bayaffairs.storage import Connection


@dataclass(frozen=True)
class DenyChange:
    seq: int
    kind: str
    value: str
    action: str
    reason: str | None
    at: datetime


async def append(
    conn: Connection, kind: str, value: str, action: str, reason: str | None, at: datetime
) -> int:
    """Call in a transaction. Appends take turns (a transaction-scoped advisory lock), so they
    commit in sequence order and a gate that has read up to N never misses an N-1 committed later.
    `at`: when the change takes effect (taps scanned before it are judged without it)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('deny_list'))")
    seq: int = await conn.fetchval(
        "INSERT INTO deny_list (kind, value, action, reason, at) VALUES ($1, $2, $3, $4, $5) RETURNING seq",
        kind,
        value,
        action,
        reason,
        at,
    )
    return seq


async def add_missing(conn: Connection, kind: str, entries: Sequence[tuple[str, str]], at: datetime) -> int:
    """Call in a transaction. Adds each (value, reason) of `kind` that is not on the list now
    (its latest change is not an add), in one statement, in value order, taking the appends'
    turn as `append` does; how many it added. `at`: as for `append`."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('deny_list'))")
    status = await conn.execute(
        """
        INSERT INTO deny_list (kind, value, action, reason, at)
        SELECT $1, e.value, 'add', e.reason, $4
        FROM unnest($2::text[], $3::text[]) AS e(value, reason)
        WHERE (SELECT action FROM deny_list d WHERE d.kind = $1 AND d.value = e.value
               ORDER BY d.seq DESC LIMIT 1) IS DISTINCT FROM 'add'
        ORDER BY e.value
        """,
        kind,
        [value for value, _ in entries],
        [reason for _, reason in entries],
        at,
    )
    return int(status.split()[-1])


async def last_seq(conn: Connection) -> int:
    seq: int = await conn.fetchval("SELECT coalesce(max(seq), 0) FROM deny_list")
    return seq


async def snapshot(
    conn: Connection, as_of: int, after: tuple[str, str], limit: int, now: datetime
) -> list[DenyChange]:
    """Entries on the list as of change `as_of`, after (kind, value) in that order: the latest
    change of each is an add. Left out: credentials that expired (their codes are refused as
    expired anyway) and keys no longer published (their codes are unknown_key)."""
    records = await conn.fetch(
        """
        SELECT l.seq, l.kind, l.value, l.action, l.reason, l.at FROM (
            SELECT DISTINCT ON (kind, value) seq, kind, value, action, reason, at FROM deny_list
            WHERE seq <= $1 AND (kind, value) > ($2, $3)
            ORDER BY kind, value, seq DESC
        ) l
        WHERE l.action = 'add'
          AND NOT (l.kind = 'credential' AND l.value ~ '^[0-9a-f]{16}$' AND EXISTS (
              SELECT 1 FROM ride_credentials c
              WHERE c.credential_id = decode(l.value, 'hex') AND c.valid_until < $5))
          AND NOT (l.kind = 'key' AND EXISTS (
              SELECT 1 FROM issuer_keys k WHERE k.kid = l.value AND k.verifies_until < $5
                AND k.compromised_at IS NULL))
        ORDER BY l.kind, l.value
        LIMIT $4
        """,
        as_of,
        after[0],
        after[1],
        limit,
        now,
    )
    return [DenyChange(**dict(r)) for r in records]


async def changes_since(conn: Connection, cursor: int, limit: int) -> list[DenyChange]:
    records = await conn.fetch(
        """
        SELECT seq, kind, value, action, reason, at FROM deny_list
        WHERE seq > $1 ORDER BY seq LIMIT $2
        """,
        cursor,
        limit,
    )
    return [DenyChange(**dict(r)) for r in records]


async def current(conn: Connection, kind: str, value: str) -> bool:
    """Whether (kind, value) is on the list now: its latest change is an add."""
    action: str | None = await conn.fetchval(
        "SELECT action FROM deny_list WHERE kind = $1 AND value = $2 ORDER BY seq DESC LIMIT 1",
        kind,
        value,
    )
    return action == "add"


async def latest(conn: Connection, kind: str, value: str) -> DenyChange | None:
    """The latest change of (kind, value), with its reason."""
    record = await conn.fetchrow(
        """
        SELECT seq, kind, value, action, reason, at FROM deny_list
        WHERE kind = $1 AND value = $2 ORDER BY seq DESC LIMIT 1
        """,
        kind,
        value,
    )
    return DenyChange(**dict(record)) if record else None
