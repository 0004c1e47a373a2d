"""Agencies' services and centres as config declares them, validated strictly.

Both the generic local agency adapter and remote agency adapters load their config block with
`AgencySettings` (so a centre or service is data, not code), and hand the core an `Agency`;
`ConfiguredAgency` is the part of such an adapter they share (all but `push`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import time
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema

from bayaffairs.adapters.protocols import CounterAgency
from bayaffairs.appointments.catalogue import describe
from bayaffairs.appointments.model import (
    LATE_ARRIVALS,
    WEEKDAYS,
    Agency,
    Centre,
    Counter,
    QueueRules,
    Service,
)
from bayaffairs.config.regions import DOCUMENT_TYPES, ID_PATTERN, LEGAL_REGIONS, TextField

_INTERVAL = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


class _Strict(Schema):
    class Meta:
        unknown = "raise"


class QuotaSchema(_Strict):
    per_day = fields.Integer(load_default=None, validate=validate.Range(1, 100))
    per_week = fields.Integer(load_default=None, validate=validate.Range(1, 500))


class ServiceSchema(_Strict):
    id = fields.String(required=True, validate=validate.Regexp(ID_PATTERN))
    name = TextField(required=True)
    duration_minutes = fields.Integer(required=True, validate=validate.Range(5, 240))
    id_documents = fields.List(fields.String(validate=validate.OneOf(DOCUMENT_TYPES)), required=True)
    required_documents = fields.List(TextField(), load_default=list)
    min_days_ahead = fields.Integer(load_default=1, validate=validate.Range(0, 365))
    max_days_ahead = fields.Integer(load_default=60, validate=validate.Range(1, 365))
    per_rider_limit = fields.Integer(load_default=2, validate=validate.Range(1, 20))
    department = fields.String(
        load_default=None,
        validate=validate.Regexp(ID_PATTERN),
        metadata={"description": "whose quota the service counts against; default the agency"},
    )
    quota = fields.Nested(
        QuotaSchema,
        load_default=None,
        metadata={"description": "per department and person; default the agency's quota"},
    )

    @validates_schema
    def check_window(self, data: dict[str, Any], **_: Any) -> None:
        if data["min_days_ahead"] > data["max_days_ahead"]:
            raise ValidationError("must not be after max_days_ahead", "min_days_ahead")


class CounterSchema(_Strict):
    id = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,15}$"))
    services = fields.List(fields.String(), required=True, validate=validate.Length(min=1))


HoursSchema = _Strict.from_dict(
    {day: fields.List(fields.String(validate=validate.Regexp(_INTERVAL))) for day in WEEKDAYS},
    name="HoursSchema",
)


class QueueSchema(_Strict):
    early_minutes = fields.Integer(
        load_default=30,
        validate=validate.Range(0, 240),
        metadata={"description": "how long before their time a checked-in person may be called"},
    )
    late_grace_minutes = fields.Integer(
        load_default=10,
        validate=validate.Range(0, 120),
        metadata={"description": "how late after their time someone still counts as on time"},
    )
    late_arrivals = fields.String(
        load_default="end_of_queue",
        validate=validate.OneOf(LATE_ARRIVALS),
        metadata={"description": "past the grace: end_of_queue (served after everyone on time) or refused"},
    )


class CentreSchema(_Strict):
    id = fields.String(required=True, validate=validate.Regexp(ID_PATTERN))
    name = TextField(required=True)
    address = TextField(required=True)
    region = fields.String(required=True, validate=validate.OneOf(LEGAL_REGIONS))
    city = fields.String(load_default=None)
    time_zone = fields.String(required=True)
    reference_prefix = fields.String(required=True, validate=validate.Regexp(r"^[A-Z]{2,3}$"))
    hours = fields.Nested(HoursSchema, required=True)
    closed_days = fields.List(fields.Date(), load_default=list)
    counters = fields.List(fields.Nested(CounterSchema), required=True, validate=validate.Length(min=1))
    queue = fields.Nested(QueueSchema, load_default=lambda: QueueSchema().load({}))
    data_stays_in = fields.String(
        load_default=None,
        validate=validate.OneOf(LEGAL_REGIONS),
        metadata={
            "description": "the applicants' personal data stays in this region: no transfer to the "
            "centre, no consent; its desks see reference, service, time and status only and check the "
            "person by the signed QR and the physical document"
        },
    )
    served_from = fields.String(
        load_default=None,
        validate=validate.OneOf(LEGAL_REGIONS),
        metadata={
            "description": "a remote video counter: its staff serve by video from this region, so the "
            "applicant's personal data goes there (default: the centre's own region)"
        },
    )

    @validates("time_zone")
    def check_zone(self, value: str, **_: Any) -> None:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationError(f"{value!r} is not an IANA time zone") from None


class KioskSchema(_Strict):
    """Self-service machines: listed with their opening hours, walked up to, never booked."""

    id = fields.String(required=True, validate=validate.Regexp(ID_PATTERN))
    name = TextField(required=True)
    address = TextField(required=True)
    region = fields.String(required=True, validate=validate.OneOf(LEGAL_REGIONS))
    city = fields.String(load_default=None)
    time_zone = fields.String(required=True)
    hours = fields.Nested(HoursSchema, required=True)
    closed_days = fields.List(fields.Date(), load_default=list)
    services = fields.List(fields.String(), required=True, validate=validate.Length(min=1))
    replaces = fields.List(
        fields.String(validate=validate.Regexp(ID_PATTERN)),
        load_default=list,
        metadata={
            "description": "ids of bookable centres this kiosk took the place of (renamed without their "
            "appointments): those appointments stay readable (.ics, cancel) in the kiosk's place and "
            "zone, and a reschedule is 409 centre_not_bookable"
        },
    )

    @validates("time_zone")
    def check_zone(self, value: str, **_: Any) -> None:
        CentreSchema().check_zone(value)


class AgencySettings(_Strict):
    """The settings of a counter agency's config block."""

    name = TextField(required=True)
    region = fields.String(required=True, validate=validate.OneOf(LEGAL_REGIONS))
    demo = fields.Boolean(
        load_default=True, metadata={"description": "the values are demo data, not the live catalogue"}
    )
    reminder_lead_minutes = fields.Integer(load_default=24 * 60, validate=validate.Range(0, 14 * 24 * 60))
    notifier = fields.String(load_default="demo_notifier", allow_none=True)
    cancellation_cooldown_minutes = fields.Integer(
        load_default=30,
        validate=validate.Range(0, 24 * 60),
        metadata={
            "description": "how long a cancelled appointment's seat stays held before anyone, the "
            "canceller included, may book it (ZMS deallocationDuration); 0 frees it at once"
        },
    )
    quota = fields.Nested(
        QuotaSchema,
        load_default=None,
        metadata={
            "description": "appointments per department and person (identified by the document) a day "
            "and a week, for every service that sets none"
        },
    )
    services = fields.List(fields.Nested(ServiceSchema), required=True, validate=validate.Length(min=1))
    centres = fields.List(fields.Nested(CentreSchema), load_default=list)
    kiosks = fields.List(
        fields.Nested(KioskSchema),
        load_default=list,
        metadata={"description": "self-service kiosks: listed with opening hours, not bookable"},
    )

    @validates_schema
    def check_references(self, data: dict[str, Any], **_: Any) -> None:
        services = [s["id"] for s in data.get("services", [])]
        if len(set(services)) != len(services):
            raise ValidationError("service ids must be unique", "services")
        if not data.get("centres") and not data.get("kiosks"):
            raise ValidationError("an agency needs a centre or a kiosk", "centres")
        for kiosk in data.get("kiosks", []):
            unknown = set(kiosk["services"]) - set(services)
            if unknown:
                raise ValidationError(f"kiosk {kiosk['id']} offers unknown {sorted(unknown)[0]}", "kiosks")
        for centre in data.get("centres", []):
            for counter in centre["counters"]:
                unknown = set(counter["services"]) - set(services)
                if unknown:
                    raise ValidationError(
                        f"counter {counter['id']} of {centre['id']} serves unknown {sorted(unknown)[0]}",
                        "centres",
                    )
        for field, places in (("centres", data.get("centres", [])), ("kiosks", data.get("kiosks", []))):
            for place in places:
                _check_hours(place["hours"], field)


def _check_hours(hours: Mapping[str, list[str]], field: str) -> None:
    for day, intervals in hours.items():
        closes_before = None
        for interval in sorted(intervals):
            start, end = parse_interval(interval)
            if start >= end:
                raise ValidationError(f"{day} {interval}: opens after it closes", field)
            if closes_before is not None and start < closes_before:
                raise ValidationError(f"{day} {interval}: overlaps the interval before", field)
            closes_before = end


def parse_interval(text: str) -> tuple[time, time]:
    start, end = text.split("-")
    end_time = time(23, 59, 59) if end == "24:00" else time.fromisoformat(end)
    return time.fromisoformat(start), end_time


def build_agency(
    agency_id: str, jurisdiction: str | None, remote: bool, personal_data: Iterable[str], s: Mapping[str, Any]
) -> Agency:
    services = {
        raw["id"]: Service(
            id=raw["id"],
            agency_id=agency_id,
            jurisdiction=jurisdiction or "",
            name=raw["name"],
            duration_minutes=raw["duration_minutes"],
            id_documents=tuple(raw["id_documents"]),
            required_documents=tuple(raw["required_documents"]),
            min_days_ahead=raw["min_days_ahead"],
            max_days_ahead=raw["max_days_ahead"],
            per_rider_limit=raw["per_rider_limit"],
            department=raw["department"] or "",
            quota_per_day=(raw["quota"] or s["quota"] or {}).get("per_day"),
            quota_per_week=(raw["quota"] or s["quota"] or {}).get("per_week"),
        )
        for raw in s["services"]
    }
    centres = {}
    for raw in s["centres"]:
        hours = {
            WEEKDAYS.index(day): tuple(parse_interval(i) for i in sorted(intervals))
            for day, intervals in raw["hours"].items()
        }
        centres[raw["id"]] = Centre(
            id=raw["id"],
            agency_id=agency_id,
            name=raw["name"],
            address=raw["address"],
            region=raw["region"],
            city=raw["city"],
            time_zone=raw["time_zone"],
            reference_prefix=raw["reference_prefix"],
            hours=hours,
            closed_days=frozenset(raw["closed_days"]),
            counters=tuple(Counter(c["id"], frozenset(c["services"])) for c in raw["counters"]),
            queue=QueueRules(**raw["queue"]),
            data_stays_in=raw["data_stays_in"],
            served_from=raw["served_from"],
        )
    for raw in s["kiosks"]:
        centres[raw["id"]] = Centre(
            id=raw["id"],
            agency_id=agency_id,
            name=raw["name"],
            address=raw["address"],
            region=raw["region"],
            city=raw["city"],
            time_zone=raw["time_zone"],
            reference_prefix="",
            hours={
                WEEKDAYS.index(day): tuple(parse_interval(i) for i in sorted(intervals))
                for day, intervals in raw["hours"].items()
            },
            closed_days=frozenset(raw["closed_days"]),
            counters=(),
            kiosk_services=frozenset(raw["services"]),
            replaces=frozenset(raw["replaces"]),
        )
    return Agency(
        id=agency_id,
        name=s["name"],
        jurisdiction=jurisdiction or "",
        region=s["region"],
        remote=remote,
        personal_data=tuple(personal_data),
        reminder_lead_minutes=s["reminder_lead_minutes"],
        notifier=s["notifier"],
        cancellation_cooldown_minutes=s["cancellation_cooldown_minutes"],
        services=services,
        centres=centres,
    )


class ConfiguredAgency(CounterAgency):
    """A counter agency whose name, services and centres are its config block (`AgencySettings`
    or a subclass adding the agency's connection); a subclass says what `push` tells the agency."""

    Settings = AgencySettings

    def describe(self) -> Mapping[str, Any]:
        return describe(self.catalog(), self.settings["demo"])

    def catalog(self) -> Agency:
        return self._agency

    @cached_property
    def _agency(self) -> Agency:
        return build_agency(
            self.id, self.jurisdiction, self.manifest.remote, self.manifest.personal_data, self.settings
        )
