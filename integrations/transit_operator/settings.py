"""The config block of one transit operator, validated strictly and turned into a fare engine.

Loading builds the engine, so a tariff that cannot be priced (a segment naming an unknown stop,
a split network, bands that fall) fails at start and in tests/test_contracts.py, naming the key.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates, validates_schema

from bayaffairs.adapters.protocols import RIDER_CATEGORIES
from bayaffairs.config.regions import ID_PATTERN, TextField
from bayaffairs.integrations.transit_operator.tariffs import read_od_table, resolve
from bayaffairs.money import MINOR_UNITS
from bayaffairs.transit.fares import PRICED_BY_EXIT, InvalidFareSettings, build_engine
from bayaffairs.transit.model import FARE_MODELS, MODES

STOP_ID = r"^[a-z0-9][a-z0-9_]{0,47}$"
USES_SEGMENTS = ("distance_bands", "station_count")
Minor = fields.Integer  # amounts are integer minor units (fen, cents, avos)
NEEDS = ("height", "card")
# Concession kind: (keys it needs, keys it may take).
CONCESSION_PARAMS: dict[str, tuple[set[str], set[str]]] = {
    "percent_off": ({"percent"}, set()),
    "free": (set(), set()),
    "fixed": ({"amount"}, set()),
    "amount_off": ({"amount"}, set()),
    "hk_two_dollar": (set(), {"percent", "amount", "threshold"}),
}


class _Strict(Schema):
    class Meta:
        unknown = "raise"


class StopSchema(_Strict):
    id = fields.String(required=True, validate=validate.Regexp(STOP_ID))
    name = TextField(required=True)


class RulesSchema(_Strict):
    tap_out = fields.Boolean(required=True)
    max_journey_minutes = fields.Integer(load_default=240, validate=validate.Range(min=1, max=24 * 60))
    tap_out_without_tap_in = fields.String(
        load_default="max_fare", validate=validate.OneOf(("deny", "max_fare"))
    )
    unfinished_fare = fields.String(
        load_default="max_fare", validate=validate.OneOf(("max_fare", "entry_fare"))
    )
    max_stale_hours = fields.Integer(load_default=24, validate=validate.Range(min=1, max=7 * 24))
    stale_policy = fields.String(load_default="deny", validate=validate.OneOf(("deny", "flag")))
    double_tap_seconds = fields.Integer(load_default=60, validate=validate.Range(min=0, max=3600))
    overtime_surcharge = Minor(load_default=0, validate=validate.Range(min=0))
    self_repairs_per_month = fields.Integer(load_default=2, validate=validate.Range(min=0, max=100))


class ConcessionSchema(_Strict):
    kind = fields.String(required=True, validate=validate.OneOf(CONCESSION_PARAMS))
    percent = fields.Decimal(validate=validate.Range(min=0, max=100, min_inclusive=False))
    amount = Minor(validate=validate.Range(min=0))
    threshold = Minor(validate=validate.Range(min=0))
    label = fields.String(validate=validate.Length(min=1, max=80))
    # What really decides the concession when a ride code cannot prove it (a child's height at
    # the gate, a registered card): such a concession is listed, and not granted to code riders.
    needs = fields.String(validate=validate.OneOf(NEEDS))

    @validates_schema
    def check_kind(self, data: dict[str, Any], **_: Any) -> None:
        required, optional = CONCESSION_PARAMS[data["kind"]]
        given = {"percent", "amount", "threshold"} & set(data)
        for key in sorted(required - given):
            raise ValidationError(f"{data['kind']} needs {key}", key)
        for key in sorted(given - required - optional):
            raise ValidationError(f"{data['kind']} takes no {key}", key)


ConcessionsSchema = _Strict.from_dict(
    {category: fields.Nested(ConcessionSchema) for category in RIDER_CATEGORIES}, name="ConcessionsSchema"
)


class TransferSchema(_Strict):
    name = fields.String(required=True, validate=validate.Regexp(ID_PATTERN))
    from_operators = fields.List(
        fields.String(validate=validate.Regexp(ID_PATTERN)),
        data_key="from",
        attribute="from",
        required=True,
        validate=validate.Length(min=1),
    )
    within_minutes = fields.Integer(required=True, validate=validate.Range(min=1, max=24 * 60))
    amount = Minor(validate=validate.Range(min=0))
    percent = fields.Decimal(validate=validate.Range(min=0, max=100, min_inclusive=False))
    title = TextField(metadata={"description": "the rider's name for it (a journey's discount line)"})

    @validates_schema
    def check_one_discount(self, data: dict[str, Any], **_: Any) -> None:
        if ("amount" in data) == ("percent" in data):
            raise ValidationError("give either amount or percent", "amount")


class FlatFares(_Strict):
    fare = Minor(required=True, validate=validate.Range(min=0))
    route_fares = fields.Dict(keys=fields.String(), values=Minor(validate=validate.Range(min=0)))


class DistanceBandFares(_Strict):
    base_fare = Minor(required=True, validate=validate.Range(min=0))
    base_km = fields.Float(required=True, validate=validate.Range(min=0, min_inclusive=False))
    steps = fields.List(fields.Tuple((fields.Float(), fields.Float())), load_default=list)
    beyond_every_km = fields.Float(validate=validate.Range(min=0, min_inclusive=False))
    increment = Minor(required=True, validate=validate.Range(min=0))
    max_fare = Minor(validate=validate.Range(min=0))


class OdMatrixFares(_Strict):
    csv = fields.String(required=True, metadata={"description": "path, relative to config/ unless absolute"})


class StationCountFares(_Strict):
    bands = fields.List(fields.Tuple((fields.Integer(), Minor())), required=True)
    beyond_fare = Minor(validate=validate.Range(min=0))


class TimeOfDayFares(_Strict):
    periods = fields.List(fields.Tuple((fields.String(), Minor())), required=True)


FARE_SCHEMAS: dict[str, type[Schema]] = {
    "flat": FlatFares,
    "distance_bands": DistanceBandFares,
    "od_matrix": OdMatrixFares,
    "station_count": StationCountFares,
    "time_of_day": TimeOfDayFares,
}


class Settings(_Strict):
    """One operator. Amounts are integer minor units of `currency`; see README.md beside this file.

    name, modes, currency, time_zone, fare_model; stops [{id, name}] (stations, or routes for
    tap-in modes); segments [[a, b, km or stations]] (distance_bands, station_count); rules {tap_out,
    max_journey_minutes, tap_out_without_tap_in, unfinished_fare, max_stale_hours, stale_policy,
    double_tap_seconds, overtime_surcharge, self_repairs_per_month};
    fares {the model's keys, see FARE_SCHEMAS}; concessions {category: {kind, percent, amount,
    threshold, label}}; transfers [{name, title, from, within_minutes, amount | percent}]; demo_tariff
    (default true).
    """

    name = TextField(required=True)
    modes = fields.List(
        fields.String(validate=validate.OneOf(MODES)), required=True, validate=validate.Length(min=1)
    )
    currency = fields.String(required=True, validate=validate.OneOf(sorted(MINOR_UNITS)))
    time_zone = fields.String(required=True)
    fare_model = fields.String(required=True, validate=validate.OneOf(FARE_MODELS))
    demo_tariff = fields.Boolean(load_default=True)
    stops = fields.List(fields.Nested(StopSchema), required=True, validate=validate.Length(min=1))
    segments = fields.List(
        fields.Tuple(
            (
                fields.String(),
                fields.String(),
                fields.Float(validate=validate.Range(min=0, min_inclusive=False)),
            )
        )
    )
    rules = fields.Nested(RulesSchema, required=True)
    fares = fields.Dict(keys=fields.String(), required=True)
    concessions = fields.Nested(ConcessionsSchema, load_default=dict)
    transfers = fields.List(fields.Nested(TransferSchema), load_default=list)

    @validates("time_zone")
    def check_zone(self, value: str, **_: Any) -> None:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationError(f"{value!r} is not an IANA time zone") from None

    @validates("stops")
    def check_unique_stops(self, value: list[dict[str, Any]], **_: Any) -> None:
        seen: set[str] = set()
        for index, stop in enumerate(value):
            if stop["id"] in seen:
                raise ValidationError({index: {"id": [f"stop {stop['id']!r} is listed twice"]}})
            seen.add(stop["id"])

    @validates_schema
    def check_model_fits(self, data: dict[str, Any], **_: Any) -> None:
        model = data["fare_model"]
        if model in USES_SEGMENTS and not data.get("segments"):
            raise ValidationError(f"{model} needs the network's segments", "segments")
        if model not in USES_SEGMENTS and "segments" in data:
            raise ValidationError(f"only {' and '.join(USES_SEGMENTS)} use segments", "segments")
        if model in PRICED_BY_EXIT and not data["rules"]["tap_out"]:
            raise ValidationError(
                {"tap_out": [f"{model} prices by exit station: riders must tap out"]}, "rules"
            )

    @post_load
    def build_fare_engine(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        """Adds `engine`, the operator's FareEngine, built once here."""
        model = data["fare_model"]
        try:
            fares = FARE_SCHEMAS[model]().load(data["fares"])
        except ValidationError as exc:
            raise ValidationError({"fares": exc.messages}) from None
        engine_settings: dict[str, Any] = {
            **fares,
            "stops": [stop["id"] for stop in data["stops"]],
            "segments": data.get("segments", ()),
            "concessions": data["concessions"],
            "transfers": data["transfers"],
        }
        lines: list[int] = []
        if model == "od_matrix":
            try:
                engine_settings["table"], lines = read_od_table(resolve(fares["csv"]))
            except ValueError as exc:
                raise ValidationError({"fares": {"csv": [str(exc)]}}) from None
        try:
            data["engine"] = build_engine(model, engine_settings, data["currency"], data["time_zone"])
        except InvalidFareSettings as exc:
            key, problem = exc.key, exc.problem
            if key.startswith("fares.table."):  # a CSV row: name the file's line
                key, problem = "fares.csv", f"line {lines[int(key.rsplit('.', 1)[1])]}: {problem}"
            raise ValidationError({key: [problem]}) from None
        data["fares"] = fares
        return data
