"""Jurisdictions (config/jurisdictions/*.toml) and cities (config/cities/*.toml).

A jurisdiction carries the legal and money facts: legal region (CN, HK, MO) for personal-data
rules, currency, IANA time zone, languages and the identity documents its residents hold.
A city belongs to a jurisdiction and is where most adapters (transit operators) are enabled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates, validates_schema

from bayaffairs.i18n import LANGUAGES, Text
from bayaffairs.money import MINOR_UNITS

LEGAL_REGIONS = ("CN", "HK", "MO")
DOCUMENT_TYPES = (
    "home_return_permit",
    "exit_entry_permit",
    "hkid",
    "macao_id",
    "mainland_id",
    "passport",
)
ID_PATTERN = r"^[a-z][a-z0-9_]{1,47}$"


@dataclass(frozen=True)
class Jurisdiction:
    id: str
    region: str
    name: Text
    currency: str
    time_zone: str
    languages: tuple[str, ...]
    resident_documents: tuple[str, ...]
    # Fare products over the jurisdiction's operators, by id (bayaffairs/transit/products.py).
    fare_products: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


@dataclass(frozen=True)
class City:
    id: str
    jurisdiction: str
    name: Text
    scope_code: int
    # Through-fare rules declared in the city's file, by id (bayaffairs/transit/through.py).
    through_fares: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Contact:
    """Where a recipient of personal data (a carrier, an agency) answers data-protection
    questions: what PIPL art. 39 asks to disclose, and where a rider asks for correction or
    deletion of what was sent."""

    email: str | None = None
    phone: str | None = None
    url: str | None = None
    address: Text | None = None


@dataclass(frozen=True)
class AdapterBlock:
    """One `[adapters.<instance>]` table: which adapter module, where, with what settings.
    `privacy_contact` is the instance's data-protection contact, for those that receive
    riders' personal data."""

    instance: str
    module: str
    enabled: bool
    settings: dict[str, Any]
    source: str
    jurisdiction: str | None = None
    city: str | None = None
    privacy_contact: Contact | None = None


class TextField(fields.Field[Text]):
    """A name in up to three languages: a plain string (English) or a table keyed by language."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Text:
        if isinstance(value, str) and value.strip():
            return Text(en=value)
        if not isinstance(value, dict):
            raise ValidationError("must be a string or a table of en, zh-Hant, zh-Hans")
        unknown = set(value) - set(LANGUAGES)
        if unknown:
            raise ValidationError(f"unknown language {sorted(unknown)[0]!r}; use en, zh-Hant, zh-Hans")
        if not isinstance(value.get("en"), str) or not value["en"].strip():
            raise ValidationError("the English text (en) is required")
        return Text.from_mapping(value)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return value.as_dict() if isinstance(value, Text) else value


class _Strict(Schema):
    class Meta:
        unknown = "raise"


class ContactSchema(_Strict):
    email = fields.Email()
    phone = fields.String(validate=validate.Regexp(r"^\+?[0-9 ()-]{6,24}$"))
    url = fields.Url(require_tld=False)
    address = TextField()

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Contact:
        if not data:
            raise ValidationError("give at least one of email, phone, url, address")
        return Contact(**data)


class TierSchema(_Strict):
    above = fields.Integer(required=True, validate=validate.Range(0, 10**9))
    percent = fields.Integer(required=True, validate=validate.Range(1, 100))


class FareProductSchema(_Strict):
    """A fare product (bayaffairs/transit/products.py): `monthly_spend_discount` takes `tiers`
    (percent off the month's spend above each threshold, rising); `monthly_subsidy` credits
    `share` ([numerator, denominator]) of the month's spend above `threshold`, up to `cap`.
    Amounts in the jurisdiction's currency, minor units."""

    kind = fields.String(
        required=True, validate=validate.OneOf(["monthly_spend_discount", "monthly_subsidy"])
    )
    name = TextField(required=True)
    operators = fields.List(fields.String(), required=True, validate=validate.Length(min=1))
    tiers = fields.List(fields.Nested(TierSchema), load_default=list)
    threshold = fields.Integer(load_default=0, validate=validate.Range(0, 10**9))
    share = fields.List(
        fields.Integer(validate=validate.Range(1, 1000)),
        load_default=lambda: [1, 3],
        validate=validate.Length(2, 2),
    )
    cap = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(0, 10**9))

    @validates_schema
    def check_kind(self, data: dict[str, Any], **_: Any) -> None:
        if data["kind"] == "monthly_spend_discount":
            tiers = data["tiers"]
            if not tiers:
                raise ValidationError("a spend discount needs tiers", "tiers")
            if [t["above"] for t in tiers] != sorted({t["above"] for t in tiers}):
                raise ValidationError("tiers must rise", "tiers")
        elif data["share"][0] > data["share"][1]:
            raise ValidationError("a share is at most the whole spend", "share")


class ThroughFareSchema(_Strict):
    """A through-fare rule (bayaffairs/transit/through.py): a journey entering at one of
    `operators` and leaving at any of them is one journey, priced by one distance-band fare over
    their joined networks: the bands of operator `fares_of`, or the `fares` table (the keys of a
    distance-band operator's `fares`). Its revenue is split by `shares`: "distance" (each
    operator's kilometres on the journey's shortest path) or "fixed" (the `weights` of the
    operators whose lines the path uses)."""

    name = TextField(required=True)
    operators = fields.List(
        fields.String(validate=validate.Regexp(ID_PATTERN)), required=True, validate=validate.Length(min=2)
    )
    fares_of = fields.String(load_default=None)
    fares = fields.Dict(keys=fields.String(), load_default=None)
    shares = fields.String(load_default="distance", validate=validate.OneOf(["distance", "fixed"]))
    weights = fields.Dict(
        keys=fields.String(), values=fields.Integer(validate=validate.Range(1, 10**6)), load_default=dict
    )

    @validates_schema
    def check_rule(self, data: dict[str, Any], **_: Any) -> None:
        operators = data["operators"]
        if len(set(operators)) != len(operators):
            raise ValidationError("an operator is listed twice", "operators")
        if (data["fares_of"] is None) == (data["fares"] is None):
            raise ValidationError("give either fares_of (an operator) or fares (a table)", "fares_of")
        if data["fares_of"] is not None and data["fares_of"] not in operators:
            raise ValidationError("must be one of operators", "fares_of")
        if data["shares"] == "fixed" and set(data["weights"]) != set(operators):
            raise ValidationError("fixed shares need a weight for each operator", "weights")
        if data["shares"] == "distance" and data["weights"]:
            raise ValidationError("weights are for fixed shares", "weights")


class JurisdictionSchema(_Strict):
    id = fields.String(required=True, validate=validate.Regexp(ID_PATTERN))
    region = fields.String(required=True, validate=validate.OneOf(LEGAL_REGIONS))
    name = TextField(required=True)
    currency = fields.String(required=True, validate=validate.OneOf(sorted(MINOR_UNITS)))
    time_zone = fields.String(required=True)
    languages = fields.List(
        fields.String(validate=validate.OneOf(LANGUAGES)), required=True, validate=validate.Length(min=1)
    )
    resident_documents = fields.List(
        fields.String(validate=validate.OneOf(DOCUMENT_TYPES)), load_default=list
    )
    adapters = fields.Dict(keys=fields.String(), values=fields.Dict(), load_default=dict)
    fare_products = fields.Dict(
        keys=fields.String(validate=validate.Regexp(ID_PATTERN)),
        values=fields.Nested(FareProductSchema),
        load_default=dict,
    )

    @validates("time_zone")
    def check_zone(self, value: str, **_: Any) -> None:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationError(f"{value!r} is not an IANA time zone") from None


class CitySchema(_Strict):
    id = fields.String(required=True, validate=validate.Regexp(ID_PATTERN))
    jurisdiction = fields.String(required=True)
    scope_code = fields.Integer(
        required=True,
        validate=validate.Range(1, 255),
        metadata={"description": "the byte ride codes carry for this city; never reuse one"},
    )
    name = TextField(required=True)
    adapters = fields.Dict(keys=fields.String(), values=fields.Dict(), load_default=dict)
    through_fares = fields.Dict(
        keys=fields.String(validate=validate.Regexp(ID_PATTERN)),
        values=fields.Nested(ThroughFareSchema),
        load_default=dict,
    )
