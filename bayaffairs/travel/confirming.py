"""Selling the held seats at the carrier and issuing the tickets.

The carrier sees only the passenger fields its manifest declares, and only with the rider's
consent to that transfer (checked before any money moves). Our booking id is the carrier's
idempotency key, so asking again after no answer never sells the seats twice. Issuing moves the
booking to `confirmed`, sells the seats in our inventory, records the transfers and the signed
tickets in one transaction; whoever issues first wins.
"""

from __future__ import annotations

from datetime import datetime

from bayaffairs import transfers
from bayaffairs.adapters.protocols import CarrierConfirmation, CarrierPassenger
from bayaffairs.clock import Clock
from bayaffairs.db.queries import travel as dq
from bayaffairs.db.queries import travel_bookings as q
from bayaffairs.documents.service import DocumentService
from bayaffairs.privacy.access import Access
from bayaffairs.storage import Database
from bayaffairs.travel.bookings import PURPOSE
from bayaffairs.travel.carriers import Carrier, Carriers
from bayaffairs.travel.errors import CarrierDeclined, DepartureCancelled
from bayaffairs.travel.tickets import SignedTicket, TicketKeys


class CarrierConfirming:
    def __init__(
        self, db: Database, clock: Clock, carriers: Carriers, documents: DocumentService, tickets: TicketKeys
    ) -> None:
        self.db = db
        self.clock = clock
        self.carriers = carriers
        self.documents = documents
        self.tickets = tickets

    async def manifest(
        self, user_id: str, row: q.BookingRow, carrier: Carrier
    ) -> tuple[list[CarrierPassenger], list[transfers.PlannedTransfer]]:
        """The passengers as the carrier may see them (only its manifest's fields), and the
        transfers that hand-over makes; raises ConsentRequired before any money moves."""
        async with self.db.acquire() as conn:
            passengers = await q.passengers(conn, [row.id])
        docs = [await self.documents.get(user_id, p.document_id) for p in passengers]
        recipient = self.carriers.recipient(carrier)
        async with self.db.acquire() as conn:
            planned = await transfers.plan(
                conn,
                user_id,
                [
                    transfers.Subject(d.id, d.type, d.issuing, d.number_masked, d.holder_name, d.holder)
                    for d in docs
                ],
                recipient,
                PURPOSE,
            )
        manifest = []
        for p, d in zip(passengers, docs, strict=True):
            available = {
                "holder_name": d.holder_name,
                "document_type": d.type,
                "document_expires": d.expires.isoformat(),
                "issuing": d.issuing,
            }
            if "document_number" in recipient.fields:
                available["document_number"] = await self.documents.reveal_number(
                    user_id,
                    d.id,
                    Access("carrier", carrier.id, "carrier_confirmation", row.id, recipient.name),
                )
            if d.date_of_birth:
                available["date_of_birth"] = d.date_of_birth.isoformat()
            manifest.append(
                CarrierPassenger(
                    f"{row.id}.{p.position}", transfers.minimal_fields(available, recipient.fields)
                )
            )
        return manifest, planned

    async def confirm(
        self, claimed: q.BookingRow, carrier: Carrier, manifest: list[CarrierPassenger]
    ) -> tuple[CarrierConfirmation, list[SignedTicket]]:
        """Sell the held seats at the carrier (our booking id is its idempotency key) and sign
        the tickets; nothing is written. Once the departure has left nothing is sold: the
        carrier's `departed` no (CarrierDeclined), whatever the carrier would say; nor on a
        cancelled departure (DepartureCancelled)."""
        async with self.db.acquire() as conn:
            departure = await dq.get_departure(conn, claimed.departure_id)
        assert departure is not None
        departs_at = departure.departs_at
        if departure.cancelled_at is not None:
            raise DepartureCancelled(details={"departure_id": departure.id})
        if self.clock.now() >= departs_at:
            raise CarrierDeclined("departed")
        confirmation = await self.carriers.call(carrier.adapter.confirm(claimed.id, manifest))
        signed = await self.tickets.sign(claimed.departure_id, int(departs_at.timestamp()), claimed.seats)
        return confirmation, signed

    async def issue(
        self,
        claimed: q.BookingRow,
        user_id: str,
        planned: list[transfers.PlannedTransfer],
        confirmation: CarrierConfirmation,
        signed: list[SignedTicket],
    ) -> bool:
        """Record a carrier's confirmation: the booking confirmed, its seats sold, the transfers
        and the tickets written. False (nothing written) when the booking is no longer `paying`:
        another driver confirmed it first, or it was released. DepartureCancelled (nothing
        written) when the departure was cancelled meanwhile: read after its seat row is locked,
        so a cancellation either came first and is seen, or waits and then finds it confirmed."""
        at = self.clock.now()
        async with self.db.transaction() as conn:
            done = await q.move(conn, claimed.id, from_status=("paying",), to_status="confirmed", at=at)
            if done is None:
                return False
            await dq.sell_held(conn, done.departure_id, done.fare_class, done.seats)
            if await dq.is_cancelled(conn, done.departure_id):
                raise DepartureCancelled(details={"departure_id": done.departure_id})
            if confirmation.carrier_reference != (claimed.carrier_reference or claimed.id):
                await q.set_carrier_reference(conn, done.id, confirmation.carrier_reference)
            await transfers.record(conn, user_id, planned, done.id, at)
            await q.insert_tickets(
                conn,
                [
                    q.TicketRow(
                        t.id, done.id, i, done.departure_id, done.carrier, t.payload, "valid", None, at
                    )
                    for i, t in enumerate(signed)
                ],
            )
        return True

    async def departs_at(self, departure_id: str) -> datetime:
        async with self.db.acquire() as conn:
            departure = await dq.get_departure(conn, departure_id)
        assert departure is not None
        return departure.departs_at
