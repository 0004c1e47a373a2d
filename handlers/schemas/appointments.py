"""Counter appointments: services, centres, slots, bookings and the counter's side."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from bayaffairs.appointments.booking import MAX_RANGE_DAYS
from bayaffairs.appointments.model import STATUSES
from bayaffairs.config.regions import DOCUMENT_TYPES
from bayaffairs.handlers.schemas.common import BoundedAwareDateTime, BoundedDate, StrictSchema, page_of
from bayaffairs.i18n import LANGUAGES

ID = validate.Length(1, 64)


class ServicesQuery(StrictSchema):
    jurisdiction = fields.String(
        load_default=None, validate=ID, metadata={"description": "a jurisdiction id (macao) or region (MO)"}
    )


class QuotaOut(Schema):
    per_day = fields.Integer(allow_none=True, metadata={"description": "a calendar day of the centre"})
    per_week = fields.Integer(allow_none=True, metadata={"description": "Monday to Sunday"})


class ServiceOut(Schema):
    id = fields.String(required=True)
    agency = fields.String(required=True)
    jurisdiction = fields.String(required=True)
    region = fields.String(required=True)
    name = fields.String(required=True)
    duration_minutes = fields.Integer(required=True)
    id_documents = fields.List(fields.String(), required=True)
    required_documents = fields.List(fields.String(), required=True)
    booking_window_days = fields.Dict(required=True)
    per_rider_limit = fields.Integer(required=True)
    department = fields.String(required=True, metadata={"description": "whose quota it counts against"})
    quota = fields.Nested(
        QuotaOut,
        allow_none=True,
        metadata={"description": "per department and person (by document); null: none"},
    )
    centres = fields.List(fields.String(), required=True)
    kiosks = fields.List(
        fields.String(), metadata={"description": "self-service kiosks offering it (walk up, no booking)"}
    )
    demo = fields.Boolean(required=True)


class ServiceList(Schema):
    items = fields.List(fields.Nested(ServiceOut), required=True)


class CentreOut(Schema):
    id = fields.String(required=True)
    kind = fields.String(
        required=True,
        validate=validate.OneOf(("service_centre", "kiosk")),
        metadata={"description": "kiosk: self-service machines, walked up to in opening hours"},
    )
    bookable = fields.Boolean(required=True, metadata={"description": "false for kiosks: no slots"})
    data_stays_in = fields.String(
        allow_none=True,
        metadata={"description": "applicants' personal data stays in this region: none goes to the centre"},
    )
    served_from = fields.String(
        allow_none=True,
        metadata={
            "description": "a remote video counter: its staff serve by video from this region, where "
            "the applicant's personal data goes (consent for it); null: served in person"
        },
    )
    agency = fields.String(required=True)
    name = fields.String(required=True)
    address = fields.String(required=True)
    region = fields.String(required=True)
    city = fields.String(allow_none=True)
    time_zone = fields.String(required=True)
    opening_hours = fields.Dict(required=True, metadata={"description": "weekday -> ['09:00-12:00', ...]"})
    closed_days = fields.List(fields.String(), required=True)
    counters = fields.List(fields.Dict(), required=True)
    services = fields.List(fields.String(), required=True)
    demo = fields.Boolean(required=True)


class CentreList(Schema):
    items = fields.List(fields.Nested(CentreOut), required=True)


class SlotsQuery(StrictSchema):
    service = fields.String(required=True, validate=ID)
    date = BoundedDate(load_default=None, metadata={"description": "one day (the centre's calendar)"})
    from_ = BoundedDate(data_key="from", load_default=None)
    to = BoundedDate(load_default=None)
    days = fields.Integer(load_default=None, validate=validate.Range(1, MAX_RANGE_DAYS))

    @validates_schema
    def one_range(self, data: dict[str, Any], **_: Any) -> None:
        if data["date"] is None and data["from_"] is None:
            raise ValidationError("give date, or from with to or days", "date")
        if data["date"] is not None and (data["from_"] or data["to"] or data["days"]):
            raise ValidationError("give date alone, or from with to or days", "date")
        if data["to"] is not None and data["days"] is not None:
            raise ValidationError("give to or days, not both", "days")


class SlotOut(Schema):
    start = fields.AwareDateTime(required=True)
    end = fields.AwareDateTime(required=True)
    capacity = fields.Integer(required=True)
    remaining = fields.Integer(required=True)


class SlotList(Schema):
    items = fields.List(fields.Nested(SlotOut), required=True)


class AppointmentIn(StrictSchema):
    centre_id = fields.String(required=True, validate=ID)
    service_id = fields.String(required=True, validate=ID)
    start = BoundedAwareDateTime(
        required=True, metadata={"description": "a slot start, RFC 3339 with offset"}
    )
    document_id = fields.String(
        load_default=None,
        validate=ID,
        metadata={"description": "the applicant's document (name, masked number)"},
    )


class RescheduleIn(StrictSchema):
    start = BoundedAwareDateTime(required=True)


class QrOut(Schema):
    payload = fields.String(required=True)
    png_url = fields.String(required=True)


class AppointmentOut(Schema):
    cancel_reason = fields.String(
        allow_none=True,
        metadata={"description": "set when the agency refused the booking: its reason, as it gave it"},
    )
    id = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    reference = fields.String(required=True)
    agency_id = fields.String(required=True)
    centre_id = fields.String(required=True)
    service_id = fields.String(required=True)
    start = fields.AwareDateTime(required=True)
    end = fields.AwareDateTime(required=True)
    local_date = fields.Date(required=True)
    document_id = fields.String(allow_none=True)
    holder_name = fields.String(required=True)
    number_masked = fields.String(allow_none=True)
    queue_number = fields.Integer(allow_none=True)
    rescheduled_from = fields.String(allow_none=True)
    rescheduled_to = fields.String(allow_none=True)
    qr = fields.Nested(QrOut, allow_none=True)
    ics_url = fields.String(required=True)
    language = fields.String(
        required=True,
        validate=validate.OneOf(LANGUAGES),
        metadata={
            "description": "the language of the notices about it: the booking request's (Accept-Language), "
            "kept by a reschedule that names none; for one booked before languages were kept, the "
            "default of the centre's jurisdiction (zh-Hant for Hong Kong and Macao, zh-Hans for Guangdong)"
        },
    )
    created_at = fields.AwareDateTime(required=True)
    updated_at = fields.AwareDateTime(required=True)


AppointmentPage = page_of(AppointmentOut, "AppointmentPage")


class CounterDayQuery(StrictSchema):
    date = BoundedDate(
        load_default=None, metadata={"description": "the centre's calendar day; today if absent"}
    )
    since = fields.Integer(
        load_default=0,
        validate=validate.Range(0, 2**62),
        metadata={"description": "a cursor from a previous answer"},
    )


class CounterAppointmentOut(Schema):
    """What a counter may see: the name and the masked document number, nothing more."""

    id = fields.String(required=True)
    reference = fields.String(required=True)
    service_id = fields.String(required=True)
    service_name = fields.String(required=True)
    start = fields.AwareDateTime(required=True)
    end = fields.AwareDateTime(required=True)
    status = fields.String(required=True)
    holder_name = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "null where the centre's data stays home (`data_stays_in`)"},
    )
    number_masked = fields.String(allow_none=True)
    queue_number = fields.Integer(allow_none=True)
    call_count = fields.Integer(required=True)
    called_by = fields.String(allow_none=True)
    walk_in = fields.Boolean(
        required=True, metadata={"description": "someone without an appointment (no name, no document)"}
    )
    change = fields.Integer(required=True, attribute="change_seq")


class CounterDay(Schema):
    centre_id = fields.String(required=True)
    data_stays_in = fields.String(
        allow_none=True,
        metadata={
            "description": "set where applicants' personal data stays in that region: the list has "
            "no names or document numbers; check people in by their signed QR and their document"
        },
    )
    date = fields.Date(required=True)
    since = fields.Integer(required=True)
    cursor = fields.Integer(
        required=True, metadata={"description": "pass as since to get only later changes"}
    )
    items = fields.List(fields.Nested(CounterAppointmentOut), required=True)


_SHOWN = {
    "description": "optional, with document_number: the type of the document the person shows; "
    "the check-in then confirms them as the person booked (409 document_mismatch otherwise)"
}
_SHOWN_NUMBER = {
    "description": "the number typed from the document shown; compared by keyed fingerprint with "
    "the booking's, never answered back"
}


class ShownDocumentIn(StrictSchema):
    """The document the person shows at the desk, typed in, to confirm them as the person booked."""

    document_type = fields.String(load_default=None, validate=validate.OneOf(DOCUMENT_TYPES), metadata=_SHOWN)
    document_number = fields.String(
        load_default=None, validate=validate.Length(4, 32), load_only=True, metadata=_SHOWN_NUMBER
    )

    @validates_schema
    def both_or_neither(self, data: dict[str, Any], **_: Any) -> None:
        if (data["document_type"] is None) != (data["document_number"] is None):
            raise ValidationError("give document_type and document_number together", "document_number")


class CheckInIn(ShownDocumentIn):
    payload = fields.String(load_default=None, validate=validate.Length(1, 300))
    reference = fields.String(load_default=None, validate=validate.Length(1, 20))

    @validates_schema
    def exactly_one(self, data: dict[str, Any], **_: Any) -> None:
        if (data["payload"] is None) == (data["reference"] is None):
            raise ValidationError("give the QR payload or the reference", "payload")


class CheckInByIdIn(ShownDocumentIn):
    payload = fields.String(load_default=None, validate=validate.Length(1, 300))


class CheckInOut(Schema):
    appointment_id = fields.String(required=True)
    queue_number = fields.Integer(required=True)
    status = fields.String(required=True)
    document = fields.String(
        metadata={
            "description": "match: the document shown is the one booked with (only when one was typed)"
        },
    )


class WalkInIn(StrictSchema):
    service_id = fields.String(required=True, validate=validate.Length(1, 64))


class WalkInOut(Schema):
    appointment_id = fields.String(required=True)
    reference = fields.String(required=True)
    service_id = fields.String(required=True)
    queue_number = fields.Integer(required=True)
    status = fields.String(required=True)


class BlockIn(StrictSchema):
    counter = fields.String(
        load_default=None,
        validate=validate.Length(1, 16),
        metadata={"description": "the desk to close; absent: the whole centre"},
    )
    start = BoundedAwareDateTime(required=True)
    end = BoundedAwareDateTime(required=True)
    reason = fields.String(required=True, validate=validate.Length(1, 200))


class BlockedAppointmentOut(Schema):
    appointment_id = fields.String(required=True)
    reference = fields.String(required=True)
    service_id = fields.String(required=True)
    start = fields.AwareDateTime(required=True)
    end = fields.AwareDateTime(required=True)
    status = fields.String(required=True)


class MovedOut(Schema):
    appointment_id = fields.String(required=True)
    counter = fields.String(required=True, metadata={"description": "the desk it holds now"})


class BlockOut(Schema):
    id = fields.String(required=True)
    centre_id = fields.String(required=True)
    counter = fields.String(allow_none=True, metadata={"description": "null: the whole centre"})
    start = fields.AwareDateTime(required=True)
    end = fields.AwareDateTime(required=True)
    reason = fields.String(required=True)
    created_at = fields.AwareDateTime(required=True)
    removed_at = fields.AwareDateTime(allow_none=True)
    affected = fields.List(
        fields.Nested(BlockedAppointmentOut),
        metadata={
            "description": "appointments still booked in the closed time: their riders are told and "
            "offered a reschedule"
        },
    )
    moved = fields.List(
        fields.Nested(MovedOut),
        metadata={"description": "appointments moved to another desk free for their whole length"},
    )


class BlockList(Schema):
    items = fields.List(fields.Nested(BlockOut), required=True)


class QueueNextIn(StrictSchema):
    counter = fields.String(required=True, validate=validate.Length(1, 16))


class QueueNextOut(Schema):
    counter = fields.String(required=True)
    appointment = fields.Nested(CounterAppointmentOut, allow_none=True)


class OutcomeIn(StrictSchema):
    outcome = fields.String(required=True, validate=validate.OneOf(("served", "no_show")))


class DisplayCallOut(Schema):
    queue_number = fields.Integer(required=True)
    counter = fields.String(required=True, metadata={"description": "the desk that called"})
    called_at = fields.AwareDateTime(required=True, metadata={"description": "in the centre's zone"})
    status = fields.String(
        required=True,
        validate=validate.OneOf(("called", "served", "no_show")),
        metadata={"description": "called: being called now; served or no_show: done"},
    )
    call_count = fields.Integer(required=True, metadata={"description": "how often it was called"})


class DisplayDeskOut(Schema):
    counter = fields.String(required=True)
    queue_number = fields.Integer(
        allow_none=True, metadata={"description": "the last number this desk called today"}
    )
    called_at = fields.AwareDateTime(allow_none=True)
    status = fields.String(allow_none=True)


class DisplayOut(Schema):
    """What a hall screen shows: queue numbers and desks, never a name or a reference."""

    centre_id = fields.String(required=True)
    centre_name = fields.String(required=True)
    date = fields.Date(required=True, metadata={"description": "the centre's calendar day"})
    time_zone = fields.String(required=True)
    desks = fields.List(
        fields.Nested(DisplayDeskOut),
        required=True,
        metadata={"description": "every desk of the centre, in config order"},
    )
    recent = fields.List(
        fields.Nested(DisplayCallOut),
        required=True,
        metadata={"description": "the latest calls of the day, newest first (at most 10)"},
    )
    waiting = fields.Integer(required=True, metadata={"description": "checked in, not called yet"})
