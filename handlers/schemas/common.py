"""Schemas shared by every resource: the error shape, money, pagination, dates and times."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

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


# The years a date or time given to the API may fall in. Python's datetime ends with the year
# 9999: a day later, a zone's wall time or a UTC conversion of 9999-12-31T20:00-05:00 raised
# OverflowError (a 500). Every date and time a request carries is one of the two fields below.
FIRST_YEAR, LAST_YEAR = 2000, 2100
YEARS_MESSAGE = "Must be in the years {first} to {last}."


def _in_years(value: date, first: int) -> None:
    if not first <= value.year <= LAST_YEAR:
        raise ValidationError(YEARS_MESSAGE.format(first=first, last=LAST_YEAR))


class BoundedAwareDateTime(fields.AwareDateTime):
    """An instant with its UTC offset (RFC 3339), in the years `FIRST_YEAR` to `LAST_YEAR`
    (read as written, in its own offset); anything else is a 400 `invalid_request`."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        loaded: datetime = super()._deserialize(value, attr, data, **kwargs)
        _in_years(loaded, FIRST_YEAR)
        return loaded


class BoundedDate(fields.Date):
    """A calendar day (YYYY-MM-DD) from `first_year` (default `FIRST_YEAR`; a date of birth
    goes further back) to `LAST_YEAR`; anything else is a 400 `invalid_request`."""

    def __init__(self, *, first_year: int = FIRST_YEAR, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.first_year = first_year

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> date:
        loaded: date = super()._deserialize(value, attr, data, **kwargs)
        _in_years(loaded, self.first_year)
        return loaded


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
