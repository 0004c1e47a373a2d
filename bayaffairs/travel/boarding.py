"""What a carrier's staff see: boarding scans and the departure's manifest.

A ticket of one of the carrier's departures boards once, while boarding is open (from the
carrier's `boarding_opens_minutes` before departure until it). The answer names the passenger
(their name, document type and masked number) so staff can check the face against the
document; a ticket of another departure names no one. The manifest lists the passengers holding
a paid seat, with the same three fields and their boarding status: a carrier sees only its own
departures' (an admin any).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from bayaffairs.clock import Clock
from bayaffairs.db.queries import travel as dq
from bayaffairs.db.queries import travel_bookings as q
from bayaffairs.errors import Forbidden, InvalidInput
from bayaffairs.pages import Page
from bayaffairs.storage import Database
from bayaffairs.travel.carriers import Carriers
from bayaffairs.travel.errors import DepartureNotFound
from bayaffairs.travel.tickets import TicketKeys, TicketRejected

# A manifest cursor is the last passenger id seen: `<booking id>.<position>`.
_CURSOR = re.compile(r"[A-Za-z0-9_-]+\.[0-9]{1,3}")


@dataclass(frozen=True)
class BoardedPassenger:
    name: str
    document_type: str
    document_masked: str


@dataclass(frozen=True)
class BoardingDecision:
    decision: str  # board | deny
    reason: str | None = None
    ticket_id: str | None = None
    passenger: BoardedPassenger | None = None


class Boarding:
    def __init__(self, db: Database, clock: Clock, tickets: TicketKeys, carriers: Carriers) -> None:
        self.db = db
        self.clock = clock
        self.tickets = tickets
        self.carriers = carriers

    async def _own(self, carrier_id: str | None, departure_id: str) -> dq.DepartureRow:
        """The departure, if the caller's carrier runs it (`carrier_id` None: an admin)."""
        async with self.db.acquire() as conn:
            departure = await dq.get_departure(conn, departure_id)
        if departure is None:
            raise DepartureNotFound(details={"departure_id": departure_id})
        if carrier_id is not None and departure.carrier != carrier_id:
            raise Forbidden("out_of_scope", scope_kind="carrier")
        return departure

    async def manifest(
        self, carrier_id: str | None, departure_id: str, *, cursor: str | None, limit: int
    ) -> tuple[dq.DepartureRow, Page[q.ManifestRow]]:
        if cursor is not None and not _CURSOR.fullmatch(cursor):
            raise InvalidInput({"cursor": ["not a cursor of this list"]})
        departure = await self._own(carrier_id, departure_id)
        async with self.db.acquire() as conn:
            rows = await q.manifest(conn, departure_id, after=cursor, limit=limit + 1)
        return departure, Page.from_rows(rows, limit, key=lambda r: r.passenger_id)

    async def scan(self, carrier_id: str | None, payload: str, departure_id: str) -> BoardingDecision:
        """`carrier_id`: the device's carrier (None for an admin, who may scan for any)."""
        departure = await self._own(carrier_id, departure_id)
        try:
            ticket = await self.tickets.verify(payload)
        except TicketRejected as exc:
            return BoardingDecision("deny", exc.reason)
        if not ticket.for_departure(departure_id):
            return BoardingDecision("deny", "wrong_departure", ticket.id)
        now = self.clock.now()
        carrier = self.carriers.get(departure.carrier)
        opens_at = departure.departs_at - timedelta(
            minutes=carrier.timetable.boarding_opens_minutes if carrier else 60
        )
        async with self.db.acquire() as conn:
            scanned = await q.board(conn, ticket.id, departure_id, now, opens_at, departure.departs_at)
        if scanned is None:
            return BoardingDecision("deny", "unknown_ticket", ticket.id)
        passenger = BoardedPassenger(scanned.name, scanned.document_type, scanned.document_masked)
        if scanned.boarded:
            return BoardingDecision("board", None, ticket.id, passenger)
        if scanned.status != "valid":
            reason = "already_boarded" if scanned.status == "boarded" else scanned.status
            return BoardingDecision("deny", reason, ticket.id, passenger)
        reason = "boarding_not_open" if now < opens_at else "departed"
        return BoardingDecision("deny", reason, ticket.id, passenger)
