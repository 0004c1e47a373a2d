"""Periodic jobs' owners: PostgreSQL session advisory locks, one per job, in a lock space of their
own (the two-key form, first key `NAMESPACE`; the service's other advisory locks take one key)."""

from __future__ import annotations

from bayaffairs.storage import Connection

NAMESPACE = 0x6A6F6273  # "jobs"


async def try_own(conn: Connection, job: str) -> bool:
    """Take the job's lock for this session if nobody holds it: true when this session holds it."""
    return bool(await conn.fetchval("SELECT pg_try_advisory_lock($1::int, hashtext($2))", NAMESPACE, job))


async def still_connected(conn: Connection) -> None:
    """A round trip: the session, and with it every lock it holds, is still there (else raises)."""
    await conn.fetchval("SELECT 1")
