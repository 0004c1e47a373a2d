"""Offline taps: bulk-stored on upload, then processed in the background."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from bayaffairs.storage import Connection
from bayaffairs.transit.model import Direction

COLUMNS = ("tap_id", "operator", "gate_id", "station", "direction", "payload", "scanned_at")


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
            (u.tap_id, u.operator, u.gate_id, u.station, u.direction, u.payload, u.scanned_at)
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
