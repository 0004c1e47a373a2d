"""The passengers of a hold: the rider's own documents, checked against the crossing's rule
table (`documents.py`), and made into the rows the group commit writes.

A passenger is one of the rider's documents (the holder travels; the booking account may be
someone else), with an onward flight when the crossing or the entry rule asks for one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bayaffairs.config.settings import TravelSettings
from bayaffairs.db.queries import travel as dq
from bayaffairs.db.queries import travel_bookings as q
from bayaffairs.documents.service import Document, DocumentService
from bayaffairs.errors import InvalidInput, NotFound
from bayaffairs.travel.carriers import Carrier, Carriers
from bayaffairs.travel.documents import Crossing, OnwardFlight, TravelDocument, refusal
from bayaffairs.travel.errors import DocumentNotAccepted, invalid_passenger

FLIGHT_NUMBER = re.compile(r"^[A-Z0-9]{2}[0-9]{1,4}[A-Z]?$")


@dataclass(frozen=True)
class PassengerRequest:
    """One passenger as asked: a document of the rider's, and their onward flight if any."""

    document_id: str
    onward_flight: OnwardFlight | None = None


def crossing_of(carriers: Carriers, carrier: Carrier, departure: dq.DepartureRow) -> Crossing:
    tt = carrier.timetable
    route = tt.routes.get(departure.route)
    return Crossing(
        origin=carriers.port_region(tt, departure.origin),
        destination=carriers.port_region(tt, departure.destination),
        airside=tt.ports[departure.destination].airside,
        control_point=route.control_point if route else "",
        travel_day=departure.departs_at.astimezone(tt.zone).date(),
        arrives_at=departure.arrives_at,
    )


async def documents_of(
    documents: DocumentService, user_id: str, requests: Sequence[PassengerRequest], limit: int
) -> list[Document]:
    """The rider's documents of the passengers, in order: at least one, at most `limit`, no
    document twice; 400 naming the passenger otherwise."""
    if not requests:
        raise InvalidInput({"passengers": ["at least one passenger"]})
    if len(requests) > limit:
        raise InvalidInput({"passengers": [f"at most {limit} passengers per booking"]}, "too_many_passengers")
    seen: dict[str, int] = {}
    for index, request in enumerate(requests):
        if request.document_id in seen:
            raise invalid_passenger(index, f"the same passenger as passengers.{seen[request.document_id]}")
        seen[request.document_id] = index
        flight = request.onward_flight
        if flight is not None and not FLIGHT_NUMBER.match(flight.number):
            raise invalid_passenger(index, "a flight number such as CX251", "onward_flight.number")
    out = []
    for index, request in enumerate(requests):
        try:
            out.append(await documents.get(user_id, request.document_id))
        except NotFound:
            raise invalid_passenger(index, "not one of your documents") from None
    return out


def check_documents(
    settings: TravelSettings,
    crossing: Crossing,
    docs: Sequence[Document],
    requests: Sequence[PassengerRequest],
) -> None:
    """400 `document_not_accepted` for the first passenger whose document does not make the
    crossing (details: passenger, document_id, reason)."""
    for index, (doc, request) in enumerate(zip(docs, requests, strict=True)):
        travel_doc = TravelDocument(
            doc.id,
            doc.type,
            doc.issuing,
            doc.expires,
            doc.number_masked,
            tuple((e.type, e.destination, e.expires, e.entries) for e in doc.endorsements),
        )
        reason = refusal(settings, crossing, travel_doc, request.onward_flight)
        if reason:
            raise DocumentNotAccepted(index, doc.id, reason)


def passenger_rows(
    booking_id: str,
    docs: Sequence[Document],
    requests: Sequence[PassengerRequest],
    categories: Sequence[str],
) -> list[q.PassengerRow]:
    """The passengers as written with the booking, each in their category (fares are set under
    the group commit's lock, from the fare class's and the category)."""
    rows = []
    for index, (doc, request, category) in enumerate(zip(docs, requests, categories, strict=True)):
        flight = request.onward_flight
        rows.append(
            q.PassengerRow(
                booking_id=booking_id,
                position=index,
                document_id=doc.id,
                document_type=doc.type,
                holder_name=doc.holder_name,
                fingerprint=doc.fingerprint or None,
                number_masked=doc.number_masked,
                category=category,
                onward_flight=flight.number if flight else None,
                onward_departs_at=flight.departs_at if flight else None,
            )
        )
    return rows


def onward(number: str | None, departs_at: datetime | None) -> OnwardFlight | None:
    return OnwardFlight(number, departs_at) if number and departs_at else None
