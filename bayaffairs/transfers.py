"""Sending a rider's personal data to a carrier or agency in another jurisdiction.

The rules encoded here (shared/domain/gba.md section 5):

- Whose data it is decides where it comes from: a data subject's origin is the legal region
  (CN, HK, MO) of the document they travel or apply with. A passport of another country has
  origin `XX`: none of the three regimes claims it, and it is sent on the contract alone.
- Data leaving its origin needs its subject's consent for that destination and purpose (the
  rider's own for their documents; for a family member's document, the consent the rider
  recorded on that person's behalf for it, never the account holder's); for
  mainland data that consent is the separate consent PIPL art. 39 asks for (the consents
  table holds one per destination and purpose, so every consent there is separate).
- Only the fields the recipient's manifest declares are sent (`minimal_fields`).
- Every transfer is recorded (what, to whom, on what basis, when) and kept three years.

Callers (travel bookings, appointments) first `plan` the transfers, which raises
`ConsentRequired` before anything is held or sent, then `record` them in the transaction that
hands the data over.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bayaffairs.clock import Clock
from bayaffairs.consents import DESTINATION_NAMES, PURPOSE_NAMES
from bayaffairs.db.queries import consents as consent_q
from bayaffairs.db.queries import data_transfers as q
from bayaffairs.errors import Forbidden
from bayaffairs.ids import new_id
from bayaffairs.pages import Page
from bayaffairs.storage import Connection, Database

RETENTION = timedelta(days=3 * 366)
FOREIGN = "XX"

# The region whose law governs a document holder's data, by document type.
_ORIGIN_OF_TYPE = {
    "mainland_id": "CN",
    "exit_entry_permit": "CN",
    "hkid": "HK",
    "macao_id": "MO",
}

# Why the hand-over is lawful, by (origin, destination); consent-based in every case.
_LEGAL_BASIS = {
    "CN": "pipl_art39_separate_consent",
    "HK": "pdpo_dpp3_prescribed_consent",
    "MO": "mo_pdpa_art20_consent",
}
_GBA_CONTRACT = "gba_standard_contract"  # mainland <-> Hong Kong, both sides in the Bay Area


class ConsentRequired(Forbidden):
    """403 `consent_required`: the rider has not consented to this destination and purpose."""

    code = "consent_required"


@dataclass(frozen=True)
class Subject:
    """A person whose data would be sent: identified by the document they use."""

    document_id: str
    document_type: str
    document_issuing: str
    number_masked: str
    name: str
    holder: str = "self"  # the rider's own document, or `other`: a family member's

    @property
    def origin(self) -> str:
        return origin_of(self.document_type, self.document_issuing, self.number_masked)


@dataclass(frozen=True)
class Recipient:
    id: str
    name: str
    region: str  # CN, HK or MO: where the carrier or agency is
    fields: tuple[str, ...]  # the personal-data fields its manifest declares


@dataclass(frozen=True)
class PlannedTransfer:
    subject: Subject
    recipient: Recipient
    purpose: str
    legal_basis: str
    consent_id: str | None


@dataclass(frozen=True)
class TransferRecord:
    id: str
    subject: str
    subject_name: str
    origin: str
    destination: str
    recipient: str
    recipient_name: str
    purpose: str
    fields: tuple[str, ...]
    legal_basis: str
    reference: str
    transferred_at: datetime
    retain_until: datetime


def origin_of(document_type: str, issuing: str, number_masked: str) -> str:
    """The legal region of a document holder's data.

    A Home Return Permit is issued by the mainland to Hong Kong (`H...`) and Macao (`M...`)
    residents: its holder's data is theirs, not the mainland's.
    """
    if document_type == "home_return_permit":
        return "MO" if number_masked.startswith("M") else "HK"
    if document_type in _ORIGIN_OF_TYPE:
        return _ORIGIN_OF_TYPE[document_type]
    return issuing if issuing in _LEGAL_BASIS else FOREIGN


def minimal_fields(available: Mapping[str, str], wanted: Iterable[str]) -> dict[str, str]:
    """Only the fields the recipient declared, and only those we have."""
    return {name: available[name] for name in wanted if name in available}


async def plan(
    conn: Connection,
    user_id: str,
    subjects: Sequence[Subject],
    recipient: Recipient,
    purpose: str,
) -> list[PlannedTransfer]:
    """What would cross a border, and on what basis; raises `ConsentRequired` when the data
    subject has not consented to a destination their data would go to: the rider for their own
    documents, a family member (through the rider, per document) for theirs."""
    planned = []
    consents: dict[str | None, str | None] = {}
    for subject in subjects:
        origin = subject.origin
        if origin == recipient.region:
            continue
        if origin == FOREIGN:
            planned.append(PlannedTransfer(subject, recipient, purpose, "contract_performance", None))
            continue
        on_behalf = subject.document_id if subject.holder == "other" else None
        if on_behalf not in consents:
            row = await consent_q.active(conn, user_id, recipient.region, purpose, on_behalf)
            consents[on_behalf] = row.id if row else None
        consent_id = consents[on_behalf]
        if consent_id is None:
            raise ConsentRequired(
                details={
                    "destination": recipient.region,
                    "purpose": purpose,
                    "recipient": recipient.id,
                    "document_id": subject.document_id,
                    "data_subject": subject.holder,
                },
                destination=DESTINATION_NAMES.get(recipient.region, recipient.region),
                purpose=PURPOSE_NAMES.get(purpose, purpose),
            )
        planned.append(
            PlannedTransfer(subject, recipient, purpose, legal_basis(origin, recipient.region), consent_id)
        )
    return planned


def legal_basis(origin: str, destination: str) -> str:
    basis = _LEGAL_BASIS[origin]
    if {origin, destination} == {"CN", "HK"}:
        return f"{basis}+{_GBA_CONTRACT}"
    return basis


async def record(
    conn: Connection,
    user_id: str,
    planned: Sequence[PlannedTransfer],
    reference: str,
    at: datetime,
) -> int:
    """Record the hand-over (in the caller's transaction); a retry records nothing twice."""
    rows = [
        q.TransferRow(
            id=new_id("dxt"),
            user_id=user_id,
            subject=p.subject.document_id,
            subject_name=p.subject.name,
            origin=p.subject.origin,
            destination=p.recipient.region,
            recipient=p.recipient.id,
            recipient_name=p.recipient.name,
            purpose=p.purpose,
            fields=list(p.recipient.fields),
            legal_basis=p.legal_basis,
            consent_id=p.consent_id,
            reference=reference,
            transferred_at=at,
            retain_until=at + RETENTION,
        )
        for p in planned
    ]
    return await q.insert_many(conn, rows)


def _record(row: q.TransferRow) -> TransferRecord:
    return TransferRecord(
        id=row.id,
        subject=row.subject,
        subject_name=row.subject_name,
        origin=row.origin,
        destination=row.destination,
        recipient=row.recipient,
        recipient_name=row.recipient_name,
        purpose=row.purpose,
        fields=tuple(row.fields),
        legal_basis=row.legal_basis,
        reference=row.reference,
        transferred_at=row.transferred_at,
        retain_until=row.retain_until,
    )


class DataTransfers:
    """The rider's view of their records, and the retention purge."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def list(self, user_id: str, *, cursor: str | None, limit: int) -> Page[TransferRecord]:
        """Newest first."""
        async with self.db.acquire() as conn:
            rows = await q.list_for_user(conn, user_id, after=cursor, limit=limit + 1)
        return Page.from_rows([_record(r) for r in rows], limit, key=lambda r: r.id)

    async def purge_expired(self) -> int:
        """Delete the records past their three years; returns how many."""
        async with self.db.acquire() as conn:
            return await q.purge_expired(conn, self.clock.now())
