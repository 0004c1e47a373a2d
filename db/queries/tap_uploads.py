"""Offline taps: bulk-stored on upload, then processed in the background."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from bayaffairs.storage import Connection
from bayaffairs.transit.model import Direction

COLUMNS = ("tap_id", "operator", "gate_id", "station", "direction", "payload", "scanned_at", "flags")


# What became of an upload: (operator, tap_id, state, reason, journey_id).
Processed = tuple[str, str, Literal["recorded", "refused"], str | None, str | None]


@dataclass(frozen=True)
class Upload:
    tap_id: str
    operator: str
    gate_id: str
    station: str
    direction: Direction
    payload: str
    scanned_at: datetime
    flags: list[str] = field(default_factory=list)  # "stale": the gate decided on an old sync


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
            (u.tap_id, u.operator, u.gate_id, u.station, u.direction, u.payload, u.scanned_at, u.flags)
            for u in uploads
        ],
        columns=list(COLUMNS),
    )
    records = await conn.fetch(
        f"""
        INSERT INTO tap_uploads ({", ".join(COLUMNS)})
        SELECT DISTINCT ON (operator, tap_id) {", ".join(COLUMNS)} FROM tap_upload_batch
        ON CONFLICT (operator, tap_id) DO NOTHING
        RETURNING tap_id
        """
    )
    return {r["tap_id"] for r in records}


async def claim_pending(conn: Connection, limit: int, settle_seconds: int) -> list[Upload]:
    """Pending uploads in scan order, once they have rested `settle_seconds` (so the entry and
    exit of one journey, uploaded by different gates, are paired in the order they happened)."""
    records = await conn.fetch(
        f"""
        SELECT {", ".join(COLUMNS)} FROM tap_uploads
        WHERE state = 'pending' AND received_at < now() - make_interval(secs => $2)
        ORDER BY scanned_at, operator, tap_id LIMIT $1
        FOR UPDATE SKIP LOCKED
        """,
        limit,
        settle_seconds,
    )
    return [Upload(**dict(r)) for r in records]


async def mark(conn: Connection, results: Sequence[Processed]) -> None:
    """The outcome of each processed upload."""
    await conn.execute(
        """
        UPDATE tap_uploads u SET state = r.state, reason = r.reason, journey_id = r.journey_id,
                                 processed_at = now()
        FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
             AS r(operator, tap_id, state, reason, journey_id)
        WHERE u.operator = r.operator AND u.tap_id = r.tap_id
        """,
        [r[0] for r in results],
        [r[1] for r in results],
        [r[2] for r in results],
        [r[3] for r in results],
        [r[4] for r in results],
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
