"""Admin: credentials over HTTP, the same operations as the CLI."""

from __future__ import annotations

from marshmallow import fields, validate

from bayaffairs.credentials import ISSUABLE_KINDS, KINDS
from bayaffairs.handlers.schemas.common import BoundedAwareDateTime, PageQuery, StrictSchema, page_of


class CredentialIn(StrictSchema):
    kind = fields.String(required=True, validate=validate.OneOf(ISSUABLE_KINDS))
    scope = fields.String(required=True, validate=validate.Length(1, 64))
    label = fields.String(validate=validate.Length(1, 100))
    ttl_days = fields.Integer(validate=validate.Range(1, 3650))
    gate_id = fields.String(
        validate=validate.Length(1, 64), metadata={"description": "gate: bind the token to this gate id"}
    )
    stations = fields.List(
        fields.String(validate=validate.Length(1, 64)),
        validate=validate.Length(1, 500),
        metadata={"description": "gate (with gate_id): and to these stations of its operator"},
    )


class CredentialOut(StrictSchema):
    id = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    scope = fields.String(required=True)
    label = fields.String(allow_none=True)
    created_at = fields.AwareDateTime(required=True)
    expires_at = fields.AwareDateTime(required=True)
    revoked_at = fields.AwareDateTime(allow_none=True)
    gate_id = fields.String(allow_none=True, metadata={"description": "a gate token bound to this gate"})
    stations = fields.List(fields.String(), allow_none=True)
    operator_wide = fields.Boolean(
        metadata={"description": "a gate token that serves every gate of its operator (tests, demos)"}
    )


class IssuedOut(CredentialOut):
    token = fields.String(required=True, metadata={"description": "shown once; only its hash is kept"})


class CredentialQuery(StrictSchema):
    kind = fields.String(validate=validate.OneOf(ISSUABLE_KINDS))
    include_inactive = fields.Boolean(load_default=False)


CredentialList = page_of(CredentialOut, "CredentialList")


class AuditQuery(PageQuery):
    since = BoundedAwareDateTime(
        load_default=None, metadata={"description": "entries at or after this instant (RFC 3339)"}
    )


class AuditEntryOut(StrictSchema):
    id = fields.Integer(required=True)
    at = fields.AwareDateTime(required=True)
    actor = fields.String(required=True, metadata={"description": "the credential: <kind>:<credential id>"})
    actor_kind = fields.String(required=True)
    scope = fields.String(required=True)
    action = fields.String(required=True, metadata={"description": "method and route"})
    target = fields.String(required=True, metadata={"description": "what it acted on: an id, else the path"})
    status = fields.Integer(required=True, metadata={"description": "how it was answered"})
    request_id = fields.String(required=True)
    code = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "a refusal's error code (e.g. document_mismatch); null otherwise"},
    )


AuditPage = page_of(AuditEntryOut, "AuditPage")
