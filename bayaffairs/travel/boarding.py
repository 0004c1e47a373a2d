"""Boarding: a carrier's device scans a ticket for one of its departures; it boards once, while
boarding is open (from the carrier's `boarding_opens_minutes` before departure until it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bayaffairs.clock import Clock
from bayaffairs.db.queries import travel as dq
from bayaffairs.db.queries import travel_bookings as q
from bayaffairs.errors import Forbidden
from bayaffairs.storage import Database
from bayaffairs.travel.carriers import Carriers
from bayaffairs.travel.errors import DepartureNotFound
from bayaffairs.travel.tickets import TicketKeys, TicketRejected


@dataclass(frozen=True)
class BoardingDecision:
    decision: str  # board | deny
    reason: str | None = None
    ticket_id: str | None = None


class Boarding:
    def __init__(self, db: Database, clock: Clock, tickets: TicketKeys, carriers: Carriers) -> None:
        self.db = db
        self.clock = clock
        self.tickets = tickets
        self.carriers = carriers

    async def scan(self, carrier_id: str | None, payload: str, departure_id: str) -> BoardingDecision:
        """`carrier_id`: the device's carrier (None for an admin, who may scan for any)."""
        async with self.db.acquire() as conn:
            departure = await dq.get_departure(conn, departure_id)
        if departure is None:
            raise DepartureNotFound(details={"departure_id": departure_id})
        if carrier_id is not None and departure.carrier != carrier_id:
            raise Forbidden("out_of_scope", scope_kind="carrier")
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
        before, boarded = scanned
        if boarded:
            return BoardingDecision("board", None, ticket.id)
        if before != "valid":
            return BoardingDecision("deny", "already_boarded" if before == "boarded" else before, ticket.id)
        return BoardingDecision("deny", "boarding_not_open" if now < opens_at else "departed", ticket.id)
