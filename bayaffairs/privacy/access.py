"""The access log: every read of a document number in clear, which the rider can see.

A number is decrypted in one place only, `DocumentService.reveal_number`, which takes an
`Access` (who reads it, why, for what) and writes the record in the transaction that reads the
ciphertext: no number leaves the database without its record. Carriers' identity checks,
counters and exports all come through there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bayaffairs.clock import Clock
from bayaffairs.db.queries import access_log as q
from bayaffairs.pages import Page
from bayaffairs.storage import Database

READER_KINDS = ("rider", "carrier", "counter", "agency", "admin")
PURPOSES = ("export", "carrier_confirmation", "boarding_check", "counter_check")


@dataclass(frozen=True)
class Access:
    """Who reads a number in clear and why. `reader` is the carrier, centre or agency id for a
    partner, the credential id for a rider or an admin; `reference` the booking, appointment or
    export the read serves."""

    reader_kind: str
    reader: str
    purpose: str
    reference: str | None = None
    reader_name: str | None = None

    def __post_init__(self) -> None:
        if self.reader_kind not in READER_KINDS:
            raise ValueError(f"reader_kind must be one of {', '.join(READER_KINDS)}")
        if self.purpose not in PURPOSES:
            raise ValueError(f"purpose must be one of {', '.join(PURPOSES)}")


@dataclass(frozen=True)
class AccessRecord:
    id: str
    document_id: str
    document_type: str
    holder_name: str
    number_masked: str
    reader_kind: str
    reader: str
    reader_name: str | None
    purpose: str
    reference: str | None
    accessed_at: datetime


def _record(row: q.AccessRow) -> AccessRecord:
    return AccessRecord(
        row.id,
        row.document_id,
        row.document_type,
        row.holder_name,
        row.number_masked,
        row.reader_kind,
        row.reader,
        row.reader_name,
        row.purpose,
        row.reference,
        row.accessed_at,
    )


class AccessLog:
    """The rider's view of the reads of their documents' numbers."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def list(self, user_id: str, *, cursor: str | None, limit: int) -> Page[AccessRecord]:
        """Newest first."""
        async with self.db.acquire() as conn:
            rows = await q.list_for_user(conn, user_id, before=cursor, limit=limit + 1)
        return Page.from_rows([_record(r) for r in rows], limit, key=lambda r: r.id)
