"""Schemas shared by every resource: the error shape, money, pagination."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from bayaffairs.money import MINOR_UNITS
from bayaffairs.pages import DEFAULT_LIMIT, MAX_LIMIT


class StrictSchema(Schema):
    """Request bodies: unknown fields are errors, so a typo is not silently ignored."""

    class Meta:
        unknown = "raise"


class ErrorBody(Schema):
    code = fields.String(required=True, metadata={"description": "stable snake_case code"})
    message = fields.String(required=True, metadata={"description": "human text in the caller's language"})
    details = fields.Dict(required=True, metadata={"description": "fields: field -> messages, and more"})
    request_id = fields.String(
        required=True, allow_none=True, metadata={"description": "this answer's X-Request-Id, for support"}
    )


class ErrorSchema(Schema):
    error = fields.Nested(ErrorBody, required=True)


class MoneySchema(StrictSchema):
    amount = fields.Integer(required=True, metadata={"description": "integer minor units"})
    currency = fields.String(required=True, validate=validate.OneOf(sorted(MINOR_UNITS)))


class PageQuery(StrictSchema):
    limit = fields.Integer(load_default=DEFAULT_LIMIT, validate=validate.Range(1, MAX_LIMIT))
    cursor = fields.String(load_default=None, validate=validate.Length(1, 64))


def page_of(item: type[Schema], name: str) -> type[Schema]:
    """A `{"items": [...], "next_cursor": ...}` schema for OpenAPI and dumping."""
    attrs: dict[str, Any] = {
        "items": fields.List(fields.Nested(item), required=True),
        "next_cursor": fields.String(allow_none=True, required=True),
    }
    return type(name, (Schema,), attrs)
