"""The rider's personal data: the access log, exports, deletion, consent withdrawal."""

from __future__ import annotations

from marshmallow import fields, validate

from bayaffairs.handlers.schemas.common import StrictSchema, page_of
from bayaffairs.privacy.access import PURPOSES, READER_KINDS


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
