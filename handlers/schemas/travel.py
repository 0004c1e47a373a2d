"""Cross-border travel: search, bookings, payment, cancellation and boarding."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from bayaffairs.handlers.schemas.common import (
    BoundedAwareDateTime,
    BoundedDate,
    MoneySchema,
    PageQuery,
    StrictSchema,
    page_of,
)
from bayaffairs.travel.ledger import PAYMENT_STATUSES
from bayaffairs.travel.model import TRAVEL_MODES
from bayaffairs.travel.refunds import STATUSES as REFUND_STATUSES

_ID = validate.Length(1, 120)


class RoutesQuery(StrictSchema):
    mode = fields.String(load_default=None, validate=validate.OneOf(TRAVEL_MODES))


class DeparturesQuery(PageQuery):
    origin = fields.String(load_default=None, validate=_ID)
    destination = fields.String(load_default=None, validate=_ID)
    date = BoundedDate(
        load_default=None,
        metadata={
            "description": "YYYY-MM-DD: the calendar day a departure leaves, in Bay Area time "
            "(UTC+08:00); a run after midnight is listed under the day it leaves"
        },
    )
    mode = fields.String(load_default=None, validate=validate.OneOf(TRAVEL_MODES))


class PortSchema(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    jurisdiction = fields.String(required=True)
    region = fields.String(required=True, metadata={"description": "CN, HK or MO"})


class RouteSchema(Schema):
    id = fields.String(required=True)
    carrier = fields.String(required=True)
    carrier_name = fields.String(required=True)
    mode = fields.String(required=True, metadata={"description": "rail, coach, ferry or bridge_bus"})
    origin = fields.Nested(PortSchema, required=True)
    destination = fields.Nested(PortSchema, required=True)
    duration_minutes = fields.Integer(required=True)
    control_point = fields.String(required=True)
    currency = fields.String(required=True)
    fare_classes = fields.List(fields.String(), required=True)
    demo = fields.Boolean(required=True, metadata={"description": "true: demo timetable and fares"})


class RouteList(Schema):
    items = fields.List(fields.Nested(RouteSchema), required=True)


class FareSchema(Schema):
    fare_class = fields.String(required=True)
    name = fields.String(required=True)
    fare = fields.Nested(MoneySchema, required=True, metadata={"description": "in the carrier's currency"})
    wallet_fare = fields.Nested(
        MoneySchema, allow_none=True, metadata={"description": "in the rider's wallet currency"}
    )
    seats_remaining = fields.Integer(required=True)


class DepartureSchema(Schema):
    id = fields.String(required=True)
    carrier = fields.String(required=True)
    carrier_name = fields.String(required=True)
    mode = fields.String(required=True)
    route = fields.String(required=True)
    origin = fields.String(required=True)
    destination = fields.String(required=True)
    departs_at = fields.DateTime(required=True)
    arrives_at = fields.DateTime(required=True)
    fares = fields.List(fields.Nested(FareSchema), required=True)


DeparturePage = page_of(DepartureSchema, "DeparturePage")


class OnwardFlightSchema(StrictSchema):
    number = fields.String(
        required=True, validate=validate.Length(3, 8), metadata={"description": "flight number, e.g. CX251"}
    )
    departs_at = BoundedAwareDateTime(required=True)


class PassengerIn(StrictSchema):
    document_id = fields.String(required=True, validate=_ID)
    onward_flight = fields.Nested(
        OnwardFlightSchema,
        metadata={
            "description": "the flight the passenger takes on: needed airside (Shekou -> SkyPier) and "
            "for transit without a visa"
        },
    )


class BookingIn(StrictSchema):
    departure_id = fields.String(required=True, validate=_ID)
    fare_class = fields.String(required=True, validate=_ID)
    passengers = fields.List(
        fields.Nested(PassengerIn), required=True, validate=validate.Length(min=1, max=50)
    )


class PassengerOut(Schema):
    id = fields.String(required=True, metadata={"description": "the passenger's id within the booking"})
    document_id = fields.String(required=True)
    name = fields.String(required=True)
    document_type = fields.String(required=True)
    status = fields.String(required=True, metadata={"description": "active or cancelled"})
    onward_flight = fields.Nested(OnwardFlightSchema, allow_none=True)
    category = fields.String(
        required=True,
        metadata={
            "description": "adult, or a category the carrier prices (child, senior), by the age the "
            "document's date of birth gives on the travel date"
        },
    )
    fare = fields.Nested(MoneySchema, required=True, metadata={"description": "this passenger's fare"})


class TicketOut(Schema):
    id = fields.String(required=True)
    position = fields.Integer(required=True, metadata={"description": "its passenger's place in the booking"})
    payload = fields.String(required=True, metadata={"description": "Base45 text the QR encodes"})
    png_url = fields.String(required=True)
    status = fields.String(required=True, metadata={"description": "valid, boarded or cancelled"})


class DisruptionOut(Schema):
    reason = fields.String(required=True)
    move_to = fields.String(required=True, metadata={"description": "the next departure with seats"})
    decide_by = fields.DateTime(required=True, metadata={"description": "then the refund starts"})


class ScheduleChangeOut(Schema):
    kind = fields.String(
        required=True,
        metadata={
            "description": "retimed (it arrives at another time) or withdrawn (the carrier's timetable "
            "no longer has it: off sale; the booking stands and may be cancelled)"
        },
    )
    changed_at = fields.DateTime(required=True)
    departs_at = fields.DateTime(allow_none=True, metadata={"description": "as the timetable now says"})
    arrives_at = fields.DateTime(allow_none=True, metadata={"description": "as the timetable now says"})
    booked_arrives_at = fields.DateTime(required=True, metadata={"description": "when it was booked"})
    alternative = fields.String(
        allow_none=True, metadata={"description": "withdrawn: the route's next run in the new timetable"}
    )


class BookingOut(Schema):
    id = fields.String(required=True)
    status = fields.String(
        required=True, metadata={"description": "held, paying, confirmed, released or cancelled"}
    )
    departure_id = fields.String(required=True)
    departs_at = fields.DateTime(
        required=True,
        metadata={"description": "as the carrier's timetable now has it, on the carrier's wall clock"},
    )
    arrives_at = fields.DateTime(required=True)
    origin = fields.String(
        required=True, metadata={"description": "port or station id (GET /v1/travel/routes)"}
    )
    origin_name = fields.String(required=True, metadata={"description": "in the request's language"})
    destination = fields.String(required=True)
    destination_name = fields.String(required=True)
    carrier = fields.String(required=True)
    fare_class = fields.String(required=True)
    passengers = fields.List(fields.Nested(PassengerOut), required=True)
    total = fields.Nested(MoneySchema, required=True, metadata={"description": "in the carrier's currency"})
    expires_at = fields.DateTime(required=True, metadata={"description": "when an unpaid hold is released"})
    created_at = fields.DateTime(required=True)
    release_reason = fields.String(allow_none=True)
    charge = fields.Nested(
        MoneySchema,
        allow_none=True,
        metadata={"description": "what the wallet paid (or, while payment_status is pending, was asked)"},
    )
    refund = fields.Nested(
        MoneySchema,
        allow_none=True,
        metadata={"description": "owed back or paid back, in the charge's currency"},
    )
    payment_status = fields.String(
        required=True,
        validate=validate.OneOf(PAYMENT_STATUSES),
        metadata={
            "description": "unpaid; pending (the provider has not said whether the charge went "
            "through: never read it as not charged); charged; refund_pending; refunded; refund_stuck "
            "(an operator is on it)"
        },
    )
    tickets = fields.List(fields.Nested(TicketOut), required=True)
    disruption = fields.Nested(
        DisruptionOut,
        allow_none=True,
        metadata={
            "description": "its departure was cancelled: it may move instead of the refund, until decide_by"
        },
    )
    moved_from = fields.String(
        allow_none=True, metadata={"description": "the cancelled departure it moved from"}
    )
    schedule_change = fields.Nested(
        ScheduleChangeOut,
        allow_none=True,
        metadata={"description": "the carrier's timetable changed its departure since it was booked"},
    )


BookingPage = page_of(BookingOut, "BookingPage")


class MoveIn(StrictSchema):
    departure_id = fields.String(
        validate=_ID,
        metadata={"description": "a later departure of the same route; default: the one offered"},
    )


class DepartureCancellationIn(StrictSchema):
    reason = fields.String(
        required=True, validate=validate.Length(1, 200), metadata={"description": "told to riders"}
    )


class CancelledBookingsOut(Schema):
    cancelled = fields.Integer(required=True, metadata={"description": "paid: refunded in full, or moved"})
    released = fields.Integer(required=True, metadata={"description": "held: let go of"})
    paying = fields.Integer(required=True, metadata={"description": "in payment: refunded when it ends"})


class DepartureCancellationOut(Schema):
    departure_id = fields.String(required=True)
    status = fields.String(required=True, metadata={"description": "cancelled"})
    reason = fields.String(required=True)
    cancelled_at = fields.DateTime(required=True)
    bookings = fields.Nested(CancelledBookingsOut, required=True)


class ManifestQuery(PageQuery):
    pass


class ManifestPassengerOut(Schema):
    passenger_id = fields.String(required=True)
    booking_id = fields.String(required=True)
    name = fields.String(required=True)
    document_type = fields.String(required=True)
    document_masked = fields.String(required=True)
    fare_class = fields.String(required=True)
    category = fields.String(required=True)
    ticket_id = fields.String(allow_none=True)
    boarding = fields.String(required=True, metadata={"description": "valid (not boarded yet) or boarded"})
    boarded_at = fields.DateTime(allow_none=True)


class ManifestOut(Schema):
    departure_id = fields.String(required=True)
    departs_at = fields.DateTime(required=True)
    cancelled = fields.Boolean(required=True)
    items = fields.List(fields.Nested(ManifestPassengerOut), required=True)
    next_cursor = fields.String(allow_none=True)


class BoardingIn(StrictSchema):
    payload = fields.String(required=True, validate=validate.Length(1, 1000))
    departure_id = fields.String(required=True, validate=_ID)


class BoardedPassengerOut(Schema):
    name = fields.String(required=True)
    document_type = fields.String(required=True)
    document_masked = fields.String(required=True, metadata={"description": "never the clear number"})


class BoardingOut(Schema):
    decision = fields.String(required=True, metadata={"description": "board or deny"})
    reason = fields.String(
        allow_none=True,
        metadata={
            "description": "already_boarded, wrong_departure, cancelled, boarding_not_open (before the "
            "carrier's boarding_opens_minutes), departed, bad_signature, malformed, unknown_key, revoked, "
            "unknown_ticket"
        },
    )
    ticket_id = fields.String(allow_none=True)
    passenger = fields.Nested(
        BoardedPassengerOut,
        allow_none=True,
        metadata={
            "description": "the ticket's passenger, to check against their document (this departure's only)"
        },
    )


class RefundQuery(PageQuery):
    status = fields.String(required=True, validate=validate.OneOf(REFUND_STATUSES))


class RefundOut(Schema):
    id = fields.String(required=True, metadata={"description": "also the provider's idempotency reference"})
    booking_id = fields.String(required=True)
    reason = fields.String(
        required=True,
        metadata={"description": "cancellation, confirmation_failed, recovery, unconfirmed, reconciled, ..."},
    )
    amount = fields.Nested(MoneySchema, required=True)
    status = fields.String(required=True, metadata={"description": "pending, done, stuck or superseded"})
    attempts = fields.Integer(required=True)
    last_error = fields.String(allow_none=True)
    created_at = fields.DateTime(required=True)
    next_attempt_at = fields.DateTime(required=True)
    done_at = fields.DateTime(allow_none=True)


RefundPage = page_of(RefundOut, "RefundPage")
