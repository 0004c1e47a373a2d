"""The directory of jurisdictions, cities and transit operators."""

from __future__ import annotations

from marshmallow import Schema, fields


class StationSchema(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)


class OperatorSchema(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    modes = fields.List(fields.String(), required=True)
    currency = fields.String(required=True)
    fare_model = fields.String(required=True)
    stations = fields.List(fields.Nested(StationSchema), required=True)
    demo_tariff = fields.Boolean(metadata={"description": "true: fares are demo data, not live tariffs"})


class CitySchema(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    currency = fields.String(required=True)
    time_zone = fields.String(required=True, metadata={"description": "IANA time zone"})
    languages = fields.List(fields.String(), required=True)
    scope_code = fields.Integer(required=True, metadata={"description": "the city byte inside ride codes"})
    operators = fields.List(fields.Nested(OperatorSchema), required=True)


class JurisdictionSchema(Schema):
    id = fields.String(required=True)
    region = fields.String(required=True, metadata={"description": "CN, HK or MO"})
    name = fields.String(required=True)
    currency = fields.String(required=True)
    time_zone = fields.String(required=True, metadata={"description": "IANA time zone"})
    languages = fields.List(fields.String(), required=True)
    resident_documents = fields.List(fields.String(), required=True)
    cities = fields.List(fields.Nested(CitySchema), required=True)


class RegionsSchema(Schema):
    items = fields.List(fields.Nested(JurisdictionSchema), required=True)
