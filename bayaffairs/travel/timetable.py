"""A carrier's timetable: the settings schema every border carrier's config block is checked
against, and the `Timetable` it becomes, which materialises departures for the days ahead.

Schedules are declared like GTFS: `services` are calendars (weekdays, optional date window,
added and removed dates); each route names one service and gives either explicit departure
times or headways (`{from, to, every}`), its duration and its fares per fare class. Times are
local to the carrier's `time_zone` and may pass 24:00 (a 00:30 run of Friday's service is
"24:30"). Fares are integer minor units of the carrier's `currency`; `fare_periods` replace them
on some days or hours (night fares, weekend fares). Remote carriers' adapters extend this schema
with their connection settings (subclass it; keep `unknown = "raise"`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema

from bayaffairs.config.regions import ID_PATTERN, TextField
from bayaffairs.i18n import Text
from bayaffairs.money import MINOR_UNITS, Money
from bayaffairs.travel.model import (
    ADULT,
    TRAVEL_MODES,
    WEEKDAYS,
    ControlPoint,
    Departure,
    FareClass,
    FarePeriod,
    PassengerCategory,
    Port,
    RefundTier,
    Route,
    Service,
    age_on,
    departure_id,
)

_CLOCK = re.compile(r"^([0-9]{1,2}):([0-5][0-9])$")
_LATEST_MINUTE = 30 * 60  # GTFS allows service past midnight; we allow up to 30:00


def clock_minutes(value: str) -> int:
    """'07:45' -> 465; '24:30' -> 1470. Raises ValueError for anything else."""
    match = _CLOCK.match(value)
    if not match:
        raise ValueError(f"{value!r} is not HH:MM")
    minutes = int(match.group(1)) * 60 + int(match.group(2))
    if minutes >= _LATEST_MINUTE:
        raise ValueError(f"{value!r} is past 30:00")
    return minutes


class ClockField(fields.Field[int]):
    """A local clock time `HH:MM` (may pass 24:00), loaded as minutes after midnight."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        text = fields.String().deserialize(value, attr, data)
        try:
            return clock_minutes(text)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


class _Strict(Schema):
    class Meta:
        unknown = "raise"


Id = fields.String
Amount = fields.Integer  # integer minor units of the carrier's currency


class PortSchema(_Strict):
    id = Id(required=True, validate=validate.Regexp(ID_PATTERN))
    name = TextField(required=True)
    jurisdiction = Id(required=True, validate=validate.Regexp(ID_PATTERN))
    airside = fields.Boolean(load_default=False)  # transfer passengers only: no entry there


class ControlPointSchema(_Strict):
    id = Id(required=True, validate=validate.Regexp(ID_PATTERN))
    name = TextField(required=True)
    hours = fields.String(load_default="24h", validate=validate.Length(min=1, max=40))


class FareClassSchema(_Strict):
    id = Id(required=True, validate=validate.Regexp(ID_PATTERN))
    name = TextField(required=True)
    capacity = fields.Integer(required=True, validate=validate.Range(min=1, max=5000))


class ServiceSchema(_Strict):
    id = Id(required=True, validate=validate.Regexp(ID_PATTERN))
    days = fields.List(fields.String(validate=validate.OneOf(WEEKDAYS)), required=True)
    start_date = fields.Date()
    end_date = fields.Date()
    added = fields.List(fields.Date(), load_default=list)
    removed = fields.List(fields.Date(), load_default=list)


class HeadwaySchema(_Strict):
    start = ClockField(required=True, data_key="from")
    end = ClockField(required=True, data_key="to")
    every = fields.Integer(required=True, validate=validate.Range(min=1, max=24 * 60))

    @validates_schema
    def check_order(self, data: dict[str, Any], **_: Any) -> None:
        if data["end"] < data["start"]:
            raise ValidationError("'to' is before 'from' (write 25:00 for 01:00 next day)", "to")


class FarePeriodSchema(_Strict):
    days = fields.List(fields.String(validate=validate.OneOf(WEEKDAYS)), load_default=list)
    start = ClockField(data_key="from")
    end = ClockField(data_key="to")
    fares = fields.Dict(keys=Id(), values=Amount(validate=validate.Range(min=0)), required=True)

    @validates_schema
    def check_window(self, data: dict[str, Any], **_: Any) -> None:
        if ("start" in data) != ("end" in data):
            raise ValidationError("give both 'from' and 'to', or neither", "from")
        if not data.get("days") and "start" not in data:
            raise ValidationError("a fare period needs days or a from/to window", "days")


class RouteSchema(_Strict):
    id = Id(required=True, validate=validate.Regexp(ID_PATTERN))
    origin = Id(required=True)
    destination = Id(required=True)
    duration_minutes = fields.Integer(required=True, validate=validate.Range(min=1, max=24 * 60))
    service = Id(required=True)
    control_point = Id(required=True)
    departures = fields.List(ClockField())
    headways = fields.List(fields.Nested(HeadwaySchema))
    fares = fields.Dict(keys=Id(), values=Amount(validate=validate.Range(min=0)), required=True)
    fare_periods = fields.List(fields.Nested(FarePeriodSchema), load_default=list)

    @validates_schema
    def check_times(self, data: dict[str, Any], **_: Any) -> None:
        if bool(data.get("departures")) == bool(data.get("headways")):
            raise ValidationError("give either departures or headways", "departures")
        if data["origin"] == data["destination"]:
            raise ValidationError("origin and destination are the same port", "destination")


class RefundTierSchema(_Strict):
    before_minutes = fields.Integer(required=True, validate=validate.Range(min=0))
    percent = fields.Integer(required=True, validate=validate.Range(min=0, max=100))


class PassengerCategorySchema(_Strict):
    id = Id(required=True, validate=validate.Regexp(ID_PATTERN))
    percent = fields.Integer(required=True, validate=validate.Range(min=0, max=100))
    below_age = fields.Integer(validate=validate.Range(min=1, max=150))
    from_age = fields.Integer(validate=validate.Range(min=1, max=150))

    @validates_schema
    def check_band(self, data: dict[str, Any], **_: Any) -> None:
        if ("below_age" in data) == ("from_age" in data):
            raise ValidationError("give below_age or from_age", "below_age")
        if data["id"] == ADULT:
            raise ValidationError("adult is everyone no category takes", "id")


class TimetableSettings(_Strict):
    """One border carrier: name, mode, currency, time_zone, hold_minutes, max_passengers,
    sales_close_minutes, boarding_opens_minutes; ports [{id, name, jurisdiction, airside}];
    control_points [{id, name, hours}];
    fare_classes [{id, name, capacity}]; services [{id, days, start_date, end_date, added,
    removed}]; routes [{id, origin, destination, duration_minutes, service, control_point,
    departures | headways, fares {class: amount}, fare_periods [{days, from, to, fares}]}];
    refund_tiers [{before_minutes, percent}]; passenger_categories [{id, below_age | from_age,
    percent}] (child and senior fares, by the passenger's age; default none); demo_timetable
    (default true).
    """

    name = TextField(required=True)
    mode = fields.String(required=True, validate=validate.OneOf(TRAVEL_MODES))
    currency = fields.String(required=True, validate=validate.OneOf(sorted(MINOR_UNITS)))
    time_zone = fields.String(required=True)
    hold_minutes = fields.Integer(load_default=10, validate=validate.Range(min=1, max=60))
    sales_close_minutes = fields.Integer(load_default=5, validate=validate.Range(min=0, max=24 * 60))
    boarding_opens_minutes = fields.Integer(load_default=60, validate=validate.Range(min=1, max=24 * 60))
    max_passengers = fields.Integer(load_default=9, validate=validate.Range(min=1, max=50))
    demo_timetable = fields.Boolean(load_default=True)
    ports = fields.List(fields.Nested(PortSchema), required=True, validate=validate.Length(min=2))
    control_points = fields.List(
        fields.Nested(ControlPointSchema), required=True, validate=validate.Length(min=1)
    )
    fare_classes = fields.List(fields.Nested(FareClassSchema), required=True, validate=validate.Length(min=1))
    services = fields.List(fields.Nested(ServiceSchema), required=True, validate=validate.Length(min=1))
    routes = fields.List(fields.Nested(RouteSchema), required=True, validate=validate.Length(min=1))
    refund_tiers = fields.List(
        fields.Nested(RefundTierSchema), load_default=lambda: [{"before_minutes": 0, "percent": 0}]
    )
    passenger_categories = fields.List(fields.Nested(PassengerCategorySchema), load_default=list)

    @validates("time_zone")
    def check_zone(self, value: str, **_: Any) -> None:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationError(f"{value!r} is not an IANA time zone") from None

    @validates_schema
    def check_references(self, data: dict[str, Any], **_: Any) -> None:
        for key in ("ports", "control_points", "fare_classes", "services", "routes", "passenger_categories"):
            ids = [item["id"] for item in data.get(key, [])]
            for dup in sorted({i for i in ids if ids.count(i) > 1}):
                raise ValidationError(f"{dup!r} is listed twice", key)
        ports = {p["id"] for p in data.get("ports", [])}
        points = {c["id"] for c in data.get("control_points", [])}
        classes = {c["id"] for c in data.get("fare_classes", [])}
        services = {s["id"] for s in data.get("services", [])}
        for index, route in enumerate(data.get("routes", [])):
            problems: dict[str, list[str]] = {}
            for key, known in (("origin", ports), ("destination", ports)):
                if route[key] not in known:
                    problems[key] = [f"unknown port {route[key]!r}"]
            if route["control_point"] not in points:
                problems["control_point"] = [f"unknown control point {route['control_point']!r}"]
            if route["service"] not in services:
                problems["service"] = [f"unknown service {route['service']!r}"]
            priced = [set(route["fares"])] + [set(p["fares"]) for p in route["fare_periods"]]
            for extra in sorted(set().union(*priced) - classes):
                problems["fares"] = [f"unknown fare class {extra!r}"]
            if not set(route["fares"]) & classes:
                problems.setdefault("fares", []).append("the route sells no fare class")
            if problems:
                raise ValidationError({index: problems}, "routes")


@dataclass(frozen=True)
class Timetable:
    """A carrier's loaded settings as values, and the departures they imply."""

    carrier: str
    name: Text
    mode: str
    currency: str
    time_zone: str
    hold_minutes: int
    max_passengers: int
    ports: Mapping[str, Port]
    control_points: Mapping[str, ControlPoint]
    fare_classes: Mapping[str, FareClass]
    services: Mapping[str, Service]
    routes: Mapping[str, Route]
    refund_tiers: tuple[RefundTier, ...]
    demo: bool = True
    sales_close_minutes: int = 5  # holds and payments close this long before departure
    boarding_opens_minutes: int = 60  # boarding opens this long before departure, closes at it
    categories: tuple[PassengerCategory, ...] = ()  # child and senior fares, first match wins

    def describe(self) -> dict[str, Any]:
        """The JSON-ready description every carrier adapter gives (names are `Text`)."""
        return {
            "id": self.carrier,
            "name": self.name,
            "mode": self.mode,
            "currency": self.currency,
            "routes": [
                {"id": r.id, "origin": r.origin, "destination": r.destination} for r in self.routes.values()
            ],
            "demo_timetable": self.demo,
        }

    @classmethod
    def from_settings(cls, carrier: str, settings: Mapping[str, Any]) -> Timetable:
        """Build from settings already loaded by `TimetableSettings` (or a subclass)."""
        s = settings
        return cls(
            carrier=carrier,
            name=s["name"],
            mode=s["mode"],
            currency=s["currency"],
            time_zone=s["time_zone"],
            hold_minutes=s.get("hold_minutes", 10),
            max_passengers=s.get("max_passengers", 9),
            demo=s.get("demo_timetable", True),
            sales_close_minutes=s.get("sales_close_minutes", 5),
            boarding_opens_minutes=s.get("boarding_opens_minutes", 60),
            ports={
                p["id"]: Port(p["id"], p["name"], p["jurisdiction"], p.get("airside", False))
                for p in s["ports"]
            },
            control_points={
                c["id"]: ControlPoint(c["id"], c["name"], c.get("hours", "24h")) for c in s["control_points"]
            },
            fare_classes={c["id"]: FareClass(c["id"], c["name"], c["capacity"]) for c in s["fare_classes"]},
            services={
                v["id"]: Service(
                    v["id"],
                    tuple(v["days"]),
                    v.get("start_date"),
                    v.get("end_date"),
                    tuple(v.get("added", ())),
                    tuple(v.get("removed", ())),
                )
                for v in s["services"]
            },
            routes={r["id"]: _route(r) for r in s["routes"]},
            categories=tuple(
                PassengerCategory(c["id"], c["percent"], c.get("below_age"), c.get("from_age"))
                for c in s.get("passenger_categories", ())
            ),
            refund_tiers=tuple(
                sorted(
                    (RefundTier(t["before_minutes"], t["percent"]) for t in s.get("refund_tiers", ())),
                    key=lambda t: -t.before_minutes,
                )
            ),
        )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def local_today(self, now: datetime) -> date:
        return now.astimezone(self.zone).date()

    def materialise(self, start: date, days: int) -> list[Departure]:
        """Every departure of the service days `start` .. `start + days - 1` (carrier-local)."""
        out: list[Departure] = []
        zone = self.zone
        for offset in range(days):
            day = start + timedelta(days=offset)
            midnight = datetime.combine(day, time(0), zone)
            for route in self.routes.values():
                if not self.services[route.service].runs_on(day):
                    continue
                for minute in route.minutes:
                    out.append(self._departure(route, day, midnight, minute))
        return out

    def departure(self, route_id: str, day: date, minute: int) -> Departure | None:
        """The one departure a departure id names, if the timetable has it."""
        route = self.routes.get(route_id)
        if route is None or minute not in route.minutes or not self.services[route.service].runs_on(day):
            return None
        return self._departure(route, day, datetime.combine(day, time(0), self.zone), minute)

    def category_of(self, birth: date | None, travel_day: date) -> str:
        """The passenger category a date of birth falls in on the travel date: the first of the
        carrier's categories whose age band holds it, else adult (also without a birth date)."""
        if birth is None:
            return ADULT
        age = age_on(birth, travel_day)
        return next((c.id for c in self.categories if c.includes(age)), ADULT)

    def category_fare(self, fare: int, category: str) -> int:
        """A passenger's fare from the fare class's: the category's percentage, rounded down."""
        found = next((c for c in self.categories if c.id == category), None)
        return fare if found is None else fare * found.percent // 100

    def refund_percent(self, minutes_before: float) -> int:
        """The refund tier for a cancellation this long before departure (0 when none fits)."""
        for tier in self.refund_tiers:
            if minutes_before >= tier.before_minutes:
                return tier.percent
        return 0

    def _departure(self, route: Route, day: date, midnight: datetime, minute: int) -> Departure:
        departs = (midnight + timedelta(minutes=minute)).astimezone(self.zone)
        weekday = WEEKDAYS[(day + timedelta(days=minute // (24 * 60))).weekday()]
        fares: dict[str, Money] = {}
        for fare_class in self.fare_classes:
            amount = route.fare_for(fare_class, weekday, minute)
            if amount is not None:
                fares[fare_class] = Money(amount, self.currency)
        return Departure(
            id=departure_id(self.carrier, route.id, day, minute),
            carrier=self.carrier,
            route=route.id,
            origin=route.origin,
            destination=route.destination,
            service_date=day,
            departs_at=departs,
            arrives_at=departs + timedelta(minutes=route.duration_minutes),
            fares=fares,
            capacity={c: self.fare_classes[c].capacity for c in fares},
        )


def _port(p: Mapping[str, Any]) -> Port:
    return Port(p["id"], p["name"], p["jurisdiction"], p.get("airside", False))


def _route(r: Mapping[str, Any]) -> Route:
    if r.get("departures"):
        minutes = sorted(set(r["departures"]))
    else:
        minutes = sorted({m for h in r["headways"] for m in range(h["start"], h["end"] + 1, h["every"])})
    return Route(
        id=r["id"],
        origin=r["origin"],
        destination=r["destination"],
        duration_minutes=r["duration_minutes"],
        service=r["service"],
        control_point=r["control_point"],
        minutes=tuple(minutes),
        fares=dict(r["fares"]),
        fare_periods=tuple(
            FarePeriod(dict(p["fares"]), tuple(p.get("days", ())), p.get("start"), p.get("end"))
            for p in r.get("fare_periods", ())
        ),
    )
