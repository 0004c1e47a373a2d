"""Consents to send a rider's personal data to another jurisdiction (CN, HK or MO).

Mainland law (PIPL art. 39) asks for a separate consent for each export, after telling the
person who receives the data and why; so a consent is per destination and purpose, records the
version of the notice the rider saw, and can be withdrawn at any time. Giving the same consent
twice keeps the one already active. Consent is the data subject's: the account holder's own
covers their own documents; a family member's document (`holder` other) goes abroad only on a
consent the rider records on that person's behalf, for that document (`document_id`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bayaffairs.clock import Clock
from bayaffairs.db.queries import consents as q
from bayaffairs.db.queries import data_transfers as transfers_q
from bayaffairs.db.queries import documents as documents_q
from bayaffairs.errors import InvalidInput, NotFound
from bayaffairs.i18n import Text
from bayaffairs.ids import new_id
from bayaffairs.pages import Page
from bayaffairs.privacy.withdrawal import SentTo, sent_to
from bayaffairs.storage import Database

DESTINATIONS = ("CN", "HK", "MO")
PURPOSES = ("travel_booking", "appointment", "ride_code")
NOTICE_VERSION = "2026-11"
# How messages name them (a rider reads "the Mainland", not "CN").
DESTINATION_NAMES = {
    "CN": Text("the Mainland", "內地", "内地"),
    "HK": Text("Hong Kong", "香港", "香港"),
    "MO": Text("Macao", "澳門", "澳门"),
}
PURPOSE_NAMES = {
    "travel_booking": Text("travel bookings", "跨境出行預訂", "跨境出行预订"),
    "appointment": Text("counter appointments", "辦事預約", "办事预约"),
    "ride_code": Text("ride codes", "乘車碼", "乘车码"),
}


@dataclass(frozen=True)
class Consent:
    id: str
    destination: str
    purpose: str
    notice_version: str
    given_at: datetime
    withdrawn_at: datetime | None
    document_id: str | None = None  # given on behalf of this document's holder; None: the rider's own

    @property
    def status(self) -> str:
        return "withdrawn" if self.withdrawn_at else "active"


@dataclass(frozen=True)
class Withdrawal:
    consent: Consent
    sent: list[SentTo]  # per recipient in the consent's destination, most recent first


def _consent(row: q.ConsentRow) -> Consent:
    return Consent(
        row.id,
        row.destination,
        row.purpose,
        row.notice_version,
        row.given_at,
        row.withdrawn_at,
        row.document_id,
    )


class ConsentService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def give(
        self, user_id: str, destination: str, purpose: str, document_id: str | None = None
    ) -> tuple[Consent, bool]:
        """The rider's own consent, or with `document_id` one given on behalf of that document's
        holder (a family member travelling with the rider): 400 for a document not the rider's."""
        async with self.db.acquire() as conn:
            if document_id is not None and await documents_q.get_for_user(conn, user_id, document_id) is None:
                raise InvalidInput({"document_id": ["not one of your documents"]})
            row, created = await q.give(
                conn,
                id=new_id("cns"),
                user_id=user_id,
                destination=destination,
                purpose=purpose,
                notice_version=NOTICE_VERSION,
                at=self.clock.now(),
                document_id=document_id,
            )
        return _consent(row), created

    async def list(self, user_id: str, *, cursor: str | None, limit: int) -> Page[Consent]:
        async with self.db.acquire() as conn:
            rows = await q.list_for_user(conn, user_id, after=cursor, limit=limit + 1)
        return Page.from_rows([_consent(r) for r in rows], limit, key=lambda c: c.id)

    async def withdraw(self, user_id: str, consent_id: str) -> Withdrawal:
        """Withdraw (from now on nothing is sent on it), and what was already sent there."""
        async with self.db.transaction() as conn:
            row = await q.withdraw(conn, user_id, consent_id, self.clock.now())
            if row is None:
                raise NotFound("consent_not_found")
            records = await transfers_q.to_destination(conn, user_id, row.destination)
        return Withdrawal(_consent(row), sent_to(records))
