"""Offline taps: bulk-stored on upload, then processed in the background."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, NamedTuple, cast

import orjson

from bayaffairs.storage import Connection
from bayaffairs.transit.model import Direction

COLUMNS = ("tap_id", "operator", "gate_id", "station", "direction", "payload", "scanned_at", "flags")
SLOTS = 16  # the rider slots uploads are claimed by (0051_tap_upload_slots.sql)


# What became of an upload: (operator, tap_id, state, reason, journey_id).
Processed = tuple[str, str, Literal["recorded", "refused"], str | None, str | None]


class Upload(NamedTuple):
    """A named tuple, not a frozen dataclass: the drain makes one a tap from its claim's row
    (~0.4 µs against ~2 µs for a frozen dataclass's __init__ of ten fields)."""

    tap_id: str
    operator: str
    gate_id: str
    station: str
    direction: Direction
    payload: str
    scanned_at: datetime
    flags: Sequence[str] = ()  # "stale": the gate decided on an old sync
    waiting: bool = False  # a tap-out that waited for its entry until the offline window closed
    slot: int = 0  # its rider's slot, 0..SLOTS-1 (stored; not read back by a claim)


@dataclass(frozen=True)
class FlaggedTap:
    tap_id: str
    gate_id: str
    station: str
    direction: str
    scanned_at: datetime
    received_at: datetime
    flags: list[str]
    state: str
    reason: str | None
    journey_id: str | None


async def store(conn: Connection, uploads: Sequence[Upload]) -> set[str]:
    """COPY into a scratch table, then keep the new ones; returns the tap ids that were new.

    Call inside a transaction (the scratch table goes with it).
    """
    await conn.execute(
        "CREATE TEMP TABLE tap_upload_batch (LIKE tap_uploads INCLUDING DEFAULTS) ON COMMIT DROP"
    )
    await conn.copy_records_to_table(
        "tap_upload_batch",
        records=[
            (
                u.tap_id,
                u.operator,
                u.gate_id,
                u.station,
                u.direction,
                u.payload,
                u.scanned_at,
                u.flags,
                u.slot,
            )
            for u in uploads
        ],
        columns=[*COLUMNS, "slot"],
    )
    records = await conn.fetch(
        f"""
        INSERT INTO tap_uploads ({", ".join(COLUMNS)}, slot)
        SELECT DISTINCT ON (operator, tap_id) {", ".join(COLUMNS)}, slot FROM tap_upload_batch
        ON CONFLICT (operator, tap_id) DO NOTHING
        RETURNING tap_id
        """
    )
    return {r["tap_id"] for r in records}


async def take_slot(
    conn: Connection, order: Sequence[int], settle_seconds: int, window_closed_before: datetime
) -> int | None:
    """The first slot in `order` with uploads due (see claim_pending) that no other transaction
    holds, now held by this one (a transaction-scoped advisory lock, taken without waiting);
    None when there is none. One lane at a time claims a slot's uploads, and so a rider's (every
    upload is in its rider's slot: 0051, 0052).

    The due check comes first (CASE keeps the order), so no empty slot is held; LIMIT 1 over the
    slots in order stops at the first lock taken. Settled pending uploads are found by receipt
    time (tap_uploads_pending_received, 0054), not by reading the slot's in scan order."""
    return cast(
        int | None,
        await conn.fetchval(
            """
            SELECT s FROM unnest($1::int[]) AS s
            WHERE CASE WHEN EXISTS (SELECT 1 FROM tap_uploads p
                                    WHERE p.state = 'pending' AND p.slot = s
                                      AND p.received_at < now() - make_interval(secs => $2))
                         OR EXISTS (SELECT 1 FROM tap_uploads w
                                    WHERE w.state = 'waiting' AND w.slot = s AND w.scanned_at < $3)
                       THEN pg_try_advisory_xact_lock(hashtext('tap_uploads:slot'), s) ELSE false END
            LIMIT 1
            """,
            list(order),
            settle_seconds,
            window_closed_before,
        ),
    )


async def claim_pending(
    conn: Connection, slot: int, limit: int, settle_seconds: int, window_closed_before: datetime
) -> list[Upload]:
    """Pending uploads of `slot` in scan order, once they have rested `settle_seconds` (the entry
    and exit of one journey, uploaded by different gates, mostly arrive in the order they
    happened), and waiting exits scanned before `window_closed_before` (their entry can no
    longer come). Call holding the slot (take_slot).

    Each state is read in the order of its own partial index (tap_uploads_pending,
    tap_uploads_waiting_since: slot, then the claim's order, 0057), so a claim reads about `limit`
    rows however many are pending; one query with both states ORed sorted every pending upload on
    each claim (0.7 s a claim at 200,000 pending). The statement is a function
    (db/functions/claim_pending_uploads.sql) planned with sorts disabled, so that stale statistics
    cannot make it read a whole slot and sort it instead. The rows of both that come after the
    first `limit` stay locked, unused, until this transaction ends, and are claimed by a later one.
    """
    records = await conn.fetch(
        "SELECT * FROM claim_pending_uploads($1, $2, $3, $4)",
        limit,
        settle_seconds,
        window_closed_before,
        slot,
    )
    return [Upload(*r) for r in records]  # the columns in field order (COLUMNS, then waiting)


async def park(conn: Connection, waiting: Sequence[tuple[str, str, str]]) -> None:
    """(operator, tap_id, account) of tap-outs that wait for their entry."""
    await conn.execute(
        """
        UPDATE tap_uploads u SET state = 'waiting', account = w.account, processed_at = now()
        FROM unnest($1::text[], $2::text[], $3::text[]) AS w(operator, tap_id, account)
        WHERE u.operator = w.operator AND u.tap_id = w.tap_id
        """,
        [w[0] for w in waiting],
        [w[1] for w in waiting],
        [w[2] for w in waiting],
    )


async def wake(conn: Connection, riders: Sequence[tuple[str, str]]) -> int:
    """The waiting tap-outs of these (operator, account) go back to pending: an entry of theirs
    has arrived. Returns how many."""
    status = await conn.execute(
        """
        UPDATE tap_uploads u SET state = 'pending', account = NULL
        FROM unnest($1::text[], $2::text[]) AS r(operator, account)
        WHERE u.state = 'waiting' AND u.account = r.account AND u.operator = r.operator
        """,
        [r[0] for r in riders],
        [r[1] for r in riders],
    )
    return int(status.split()[-1])


async def mark(conn: Connection, results: Sequence[Processed]) -> None:
    """The outcome of each processed upload. One JSON text of [operator, tap_id, state, reason,
    journey_id] rows, not five text[]: asyncpg checks every element of an array argument against
    abstract base classes (3 checks an element, ~1 µs), a cost per tap of the drain."""
    await conn.execute(
        """
        UPDATE tap_uploads u SET state = r ->> 2, reason = r ->> 3, journey_id = r ->> 4,
                                 processed_at = now()
        FROM json_array_elements($1::text::json) AS r
        WHERE u.operator = r ->> 0 AND u.tap_id = r ->> 1
        """,
        orjson.dumps(results).decode(),
    )


async def flagged(conn: Connection, operator: str, after: str | None, limit: int) -> list[FlaggedTap]:
    """An operator's flagged taps in tap id order, after the cursor `after`."""
    records = await conn.fetch(
        """
        SELECT tap_id, gate_id, station, direction, scanned_at, received_at, flags, state, reason, journey_id
        FROM tap_uploads
        WHERE operator = $1 AND flags <> '{}' AND ($2::text IS NULL OR tap_id > $2)
        ORDER BY tap_id LIMIT $3
        """,
        operator,
        after,
        limit,
    )
    return [FlaggedTap(**dict(r)) for r in records]
