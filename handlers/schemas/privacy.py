"""The rider's personal data: the access log, exports, deletion, consent withdrawal."""

from __future__ import annotations

from marshmallow import fields, validate

from bayaffairs.handlers.schemas.common import MoneySchema, StrictSchema, page_of
from bayaffairs.handlers.schemas.profile import ConsentOut
from bayaffairs.privacy.access import PURPOSES, READER_KINDS
from bayaffairs.privacy.export import FORMATS, NUMBERS


class AccessRecordOut(StrictSchema):
    id = fields.String(required=True)
    document_id = fields.String(required=True, metadata={"description": "it may have been deleted since"})
    document_type = fields.String(required=True)
    holder_name = fields.String(required=True)
    number_masked = fields.String(required=True)
    reader_kind = fields.String(required=True, validate=validate.OneOf(READER_KINDS))
    reader = fields.String(
        required=True,
        metadata={"description": "carrier, centre or agency id; the session (credential id) for riders"},
    )
    reader_name = fields.String(allow_none=True)
    purpose = fields.String(required=True, validate=validate.OneOf(PURPOSES))
    reference = fields.String(
        allow_none=True, metadata={"description": "the booking, appointment or export it served"}
    )
    accessed_at = fields.AwareDateTime(required=True)


AccessRecordPage = page_of(AccessRecordOut, "AccessRecordPage")


class ContactOut(StrictSchema):
    email = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    url = fields.String(allow_none=True)
    address = fields.String(allow_none=True, metadata={"description": "in the caller's language"})


class SentToOut(StrictSchema):
    recipient = fields.String(required=True, metadata={"description": "carrier or agency id"})
    recipient_name = fields.String(required=True, metadata={"description": "in the caller's language"})
    destination = fields.String(required=True)
    contact = fields.Nested(
        ContactOut,
        allow_none=True,
        metadata={"description": "where to ask the recipient to see, correct or delete the data"},
    )
    purposes = fields.List(fields.String(), required=True)
    fields_sent = fields.List(fields.String(), required=True, attribute="fields", data_key="fields")
    subjects = fields.List(fields.String(), required=True, metadata={"description": "whose data"})
    references = fields.List(
        fields.String(), required=True, metadata={"description": "the bookings and appointments"}
    )
    transfers = fields.Integer(required=True)
    first_sent_at = fields.AwareDateTime(required=True)
    last_sent_at = fields.AwareDateTime(required=True)


class ConsentWithdrawalOut(ConsentOut):
    notice = fields.String(
        required=True, metadata={"description": "what withdrawing does, in the caller's language"}
    )
    already_sent = fields.List(
        fields.Nested(SentToOut),
        required=True,
        metadata={"description": "what went to the destination before, per recipient, most recent first"},
    )


class ExportQuery(StrictSchema):
    format = fields.String(load_default="json", validate=validate.OneOf(FORMATS))
    document_numbers = fields.String(
        load_default="masked",
        validate=validate.OneOf(NUMBERS),
        metadata={"description": "clear: needs a sign-in from the last few minutes (re-authentication)"},
    )


class ExportProgressOut(StrictSchema):
    done = fields.Integer(required=True)
    total = fields.Integer(required=True)
    percent = fields.Integer(required=True)


class ExportJobOut(StrictSchema):
    id = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["queued", "running", "ready", "failed"]))
    format = fields.String(required=True, validate=validate.OneOf(FORMATS))
    document_numbers = fields.String(required=True, validate=validate.OneOf(NUMBERS))
    progress = fields.Nested(ExportProgressOut, required=True)
    created_at = fields.AwareDateTime(required=True)
    expires_at = fields.AwareDateTime(required=True)
    download_url = fields.String(
        allow_none=True,
        metadata={"description": "once ready; needs the rider's token (a fresh one for clear numbers)"},
    )


class OpenBookingOut(StrictSchema):
    id = fields.String(required=True)
    status = fields.String(required=True)
    departs_at = fields.AwareDateTime(required=True)


class OpenAppointmentOut(StrictSchema):
    id = fields.String(required=True)
    start = fields.AwareDateTime(required=True, attribute="starts_at")


class DeletionPlanOut(StrictSchema):
    id = fields.String(required=True)
    confirmation = fields.String(
        required=True, metadata={"description": "send it back in DELETE /v1/me, from this session"}
    )
    expires_at = fields.AwareDateTime(required=True)
    bookings_to_cancel = fields.List(
        fields.Nested(OpenBookingOut),
        required=True,
        metadata={"description": "held, and confirmed ones still ahead: refunded by the carrier's rules"},
    )
    appointments_to_cancel = fields.List(fields.Nested(OpenAppointmentOut), required=True)
    kept = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        required=True,
        metadata={"description": "records the law keeps, under a pseudonym and without names"},
    )


class DeletionIn(StrictSchema):
    confirmation = fields.String(required=True, validate=validate.Length(1, 64))


class CancelledBookingOut(StrictSchema):
    id = fields.String(required=True, attribute="booking_id")
    refund = fields.Nested(MoneySchema, allow_none=True)


class DeletedOut(StrictSchema):
    status = fields.String(required=True, validate=validate.OneOf(["deleted", "deleting"]))
    reference = fields.String(
        required=True,
        metadata={"description": "the pseudonym kept records carry: quote it about a refund or a payment"},
    )
    bookings_cancelled = fields.List(fields.Nested(CancelledBookingOut), required=True)
    appointments_cancelled = fields.List(fields.String(), required=True)
    documents_destroyed = fields.Integer(required=True)
    kept = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    retry_at = fields.AwareDateTime(
        allow_none=True, metadata={"description": "deleting: a carrier is being retried; nothing else to do"}
    )
