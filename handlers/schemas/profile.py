"""Sessions, the rider's profile, wallet, documents and consents."""

from __future__ import annotations

from marshmallow import fields, validate

from bayaffairs.adapters.protocols import RIDER_CATEGORIES
from bayaffairs.config.regions import DOCUMENT_TYPES, LEGAL_REGIONS
from bayaffairs.consents import DESTINATIONS, PURPOSES
from bayaffairs.documents.rules import ENDORSEMENT_TYPES
from bayaffairs.handlers.schemas.common import BoundedDate, StrictSchema, page_of
from bayaffairs.money import MINOR_UNITS


class WalletSchema(StrictSchema):
    currency = fields.String(required=True, validate=validate.OneOf(sorted(MINOR_UNITS)))
    provider = fields.String(required=True, validate=validate.Length(1, 48))


class UserSchema(StrictSchema):
    id = fields.String(required=True)
    display_name = fields.String(allow_none=True)
    category = fields.String(required=True, validate=validate.OneOf(RIDER_CATEGORIES))
    wallet = fields.Nested(WalletSchema, allow_none=True)
    created_at = fields.AwareDateTime(required=True)


class SessionIn(StrictSchema):
    provider = fields.String(required=True, validate=validate.Length(1, 48))
    code = fields.String(required=True, validate=validate.Length(1, 512))
    category = fields.String(
        validate=validate.OneOf(RIDER_CATEGORIES),
        metadata={"description": "only the dev provider takes this; others verify it"},
    )
    display_name = fields.String(
        validate=validate.Length(1, 64), metadata={"description": "dev provider only"}
    )


class SessionOut(StrictSchema):
    token = fields.String(required=True)
    expires_at = fields.AwareDateTime(required=True)
    user = fields.Nested(UserSchema, required=True)


class IdentityProviderOut(StrictSchema):
    id = fields.String(required=True, metadata={"description": "the `provider` of POST /v1/auth/sessions"})
    name = fields.String(required=True)
    unverified = fields.Boolean(
        required=True,
        metadata={
            "description": "true: the code is a handle trusted as is, and display_name and "
            "category are taken from the request (the dev provider)"
        },
    )


class PaymentProviderOut(StrictSchema):
    id = fields.String(required=True, metadata={"description": "the `provider` of PUT /v1/me/wallet"})
    name = fields.String(required=True)
    currencies = fields.List(fields.String(), required=True)


class ProvidersOut(StrictSchema):
    identity = fields.List(fields.Nested(IdentityProviderOut), required=True)
    payment = fields.List(fields.Nested(PaymentProviderOut), required=True)


class PrincipalOut(StrictSchema):
    credential_id = fields.String(required=True)
    kind = fields.String(required=True)
    scope = fields.String(required=True)
    expires_at = fields.AwareDateTime(required=True)
    authenticated_at = fields.AwareDateTime(
        attribute="issued_at",
        allow_none=True,
        metadata={"description": "when this credential was issued: for a rider, the sign-in"},
    )


class EndorsementSchema(StrictSchema):
    type = fields.String(
        required=True,
        validate=validate.OneOf(ENDORSEMENT_TYPES),
        metadata={
            "description": "on an exit_entry_permit: G individual, L group, T family, S business, "
            "F/Q/D others; on a passport: V, a visa"
        },
    )
    destination = fields.String(required=True, validate=validate.OneOf(["CN", "HK", "MO"]))
    expires = BoundedDate(required=True, metadata={"description": "last day it is valid"})
    entries = fields.Integer(
        allow_none=True, validate=validate.Range(0, 999), metadata={"description": "left; null: multiple"}
    )


HOLDERS = ("self", "other")
_HOLDER = {
    "description": "self: the rider's own document; other: a family member's (or anyone's travelling "
    "with the rider), whose data goes abroad only on a consent given on their behalf for this document"
}


class DocumentIn(StrictSchema):
    type = fields.String(required=True, validate=validate.OneOf(DOCUMENT_TYPES))
    holder_name = fields.String(required=True, validate=validate.Length(1, 100))
    number = fields.String(required=True, validate=validate.Length(4, 32), load_only=True)
    issuing = fields.String(
        required=True,
        validate=validate.Regexp(r"^[A-Z]{2,3}$"),
        metadata={"description": f"issuing region ({', '.join(LEGAL_REGIONS)}) or ISO country code"},
    )
    expires = BoundedDate(required=True)
    date_of_birth = BoundedDate(first_year=1900)
    endorsements = fields.List(
        fields.Nested(EndorsementSchema), load_default=list, validate=validate.Length(max=20)
    )
    holder = fields.String(load_default="self", validate=validate.OneOf(HOLDERS), metadata=_HOLDER)


class DocumentOut(StrictSchema):
    id = fields.String(required=True)
    type = fields.String(required=True)
    holder_name = fields.String(required=True)
    number_masked = fields.String(required=True)
    issuing = fields.String(required=True)
    expires = fields.Date(required=True)
    date_of_birth = fields.Date(allow_none=True)
    endorsements = fields.List(fields.Nested(EndorsementSchema), required=True)
    created_at = fields.AwareDateTime(required=True)
    holder = fields.String(required=True, metadata=_HOLDER)


DocumentPage = page_of(DocumentOut, "DocumentPage")


class ConsentIn(StrictSchema):
    destination = fields.String(required=True, validate=validate.OneOf(DESTINATIONS))
    purpose = fields.String(required=True, validate=validate.OneOf(PURPOSES))
    document_id = fields.String(
        validate=validate.Length(1, 64),
        metadata={
            "description": "given on behalf of this document's holder (a family member): their data "
            "goes abroad on it; without it, the account holder's own consent"
        },
    )


class ConsentOut(StrictSchema):
    id = fields.String(required=True)
    destination = fields.String(required=True)
    purpose = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["active", "withdrawn"]))
    notice_version = fields.String(required=True)
    given_at = fields.AwareDateTime(required=True)
    withdrawn_at = fields.AwareDateTime(allow_none=True)
    document_id = fields.String(
        allow_none=True,
        metadata={"description": "on behalf of this document's holder; null: the rider's own"},
    )


ConsentPage = page_of(ConsentOut, "ConsentPage")


class DataTransferOut(StrictSchema):
    id = fields.String(required=True)
    subject = fields.String(required=True, metadata={"description": "the document the data came from"})
    subject_name = fields.String(required=True)
    origin = fields.String(required=True, metadata={"description": "CN, HK, MO, or XX (another country)"})
    destination = fields.String(required=True)
    recipient = fields.String(required=True, metadata={"description": "carrier or agency id"})
    recipient_name = fields.String(required=True)
    purpose = fields.String(required=True)
    fields_sent = fields.List(fields.String(), required=True, attribute="fields", data_key="fields")
    legal_basis = fields.String(required=True)
    reference = fields.String(required=True, metadata={"description": "the booking or appointment"})
    transferred_at = fields.AwareDateTime(required=True)
    retain_until = fields.AwareDateTime(required=True)


DataTransferPage = page_of(DataTransferOut, "DataTransferPage")
