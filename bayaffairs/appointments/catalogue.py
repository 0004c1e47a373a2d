"""Every enabled agency's services and centres, looked up by id, and their JSON shapes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

from bayaffairs.appointments.model import WEEKDAYS, Agency, Appointment, Centre, Service
from bayaffairs.errors import NotFound
from bayaffairs.i18n import DEFAULT_LANGUAGE, localise


class Catalogue:
    """`languages`: each jurisdiction's default language (the first of its `languages`), for
    notices about appointments booked before the rider's language was kept."""

    def __init__(
        self, agencies: Iterable[Agency], demo: Iterable[str] = (), languages: Mapping[str, str] | None = None
    ) -> None:
        self.agencies = {a.id: a for a in agencies}
        self.demo = frozenset(demo)
        self.languages = dict(languages or {})
        self.services: dict[str, Service] = {}
        self.centres: dict[str, Centre] = {}
        for agency in self.agencies.values():
            self.services.update(agency.services)
            self.centres.update(agency.centres)
        # Former ids -> the centre that took their place (`Centre.replaces`).
        self.former: dict[str, Centre] = {}
        for centre in self.centres.values():
            for old in centre.replaces:
                if old in self.centres or old in self.former:
                    raise ValueError(f"centre id {old} is replaced by {centre.id} and also in use")
                self.former[old] = centre
        self._json: dict[tuple[str, str], list[dict[str, Any]]] = {}

    def service(self, service_id: str) -> Service:
        service = self.services.get(service_id)
        if service is None:
            raise NotFound("service_not_found")
        return service

    def centre(self, centre_id: str) -> Centre:
        centre = self.centres.get(centre_id)
        if centre is None:
            raise NotFound("centre_not_found")
        return centre

    def home(self, centre_id: str) -> Centre:
        """Where an appointment stored at `centre_id` is: that centre or, for an id renamed
        without its appointments, the one that took its place (a kiosk: not bookable)."""
        centre = self.centres.get(centre_id) or self.former.get(centre_id)
        if centre is None:
            raise NotFound("centre_not_found")
        return centre

    def zone_of(self, centre_id: str) -> ZoneInfo:
        """The centre's time zone (its successor's for a renamed id; UTC for a centre no longer
        configured)."""
        centre = self.centres.get(centre_id) or self.former.get(centre_id)
        return centre.zone if centre is not None else ZoneInfo("UTC")

    def agency_of(self, service: Service) -> Agency:
        return self.agencies[service.agency_id]

    def notice_language(self, appointment: Appointment) -> str:
        """The language notices about the appointment are written in: the rider's, kept at
        booking; for one booked before that was kept, the default of the jurisdiction the
        centre belongs to (its agency's, whose config lists it: Hong Kong's and Macao's centres
        zh-Hant, Guangdong's zh-Hans, wherever the building stands), else English."""
        if appointment.language is not None:
            return appointment.language
        agency = self.agencies.get(appointment.agency_id)
        return self.languages.get(agency.jurisdiction, DEFAULT_LANGUAGE) if agency else DEFAULT_LANGUAGE

    def services_json(self, language: str, jurisdiction: str | None) -> list[dict[str, Any]]:
        """`jurisdiction` is a jurisdiction id (macao) or a legal region (MO)."""
        key = ("services", language)
        if key not in self._json:
            self._json[key] = [
                {
                    **localise(service_json(s), language),
                    "region": self.agencies[s.agency_id].region,
                    "demo": s.agency_id in self.demo,
                    "centres": sorted(c.id for c in self.centres.values() if c.serves(s.id)),
                    "kiosks": sorted(
                        c.id for c in self.centres.values() if c.kiosk_services and s.id in c.kiosk_services
                    ),
                }
                for s in sorted(self.services.values(), key=lambda s: s.id)
            ]
        items = self._json[key]
        if jurisdiction:
            items = [i for i in items if jurisdiction in (i["jurisdiction"], i["region"])]
        return items

    def centres_json(self, language: str) -> list[dict[str, Any]]:
        key = ("centres", language)
        if key not in self._json:
            self._json[key] = [
                {**localise(centre_json(c), language), "demo": c.agency_id in self.demo}
                for c in sorted(self.centres.values(), key=lambda c: c.id)
            ]
        return self._json[key]


def describe(agency: Agency, demo: bool) -> dict[str, Any]:
    """JSON-ready (names as `Text`, localised by the caller): what `GET /v1/services` and
    `GET /v1/centres` show, and the centre ids counter credentials may be issued for."""
    return {
        "id": agency.id,
        "name": agency.name,
        "jurisdiction": agency.jurisdiction,
        "region": agency.region,
        "demo": demo,
        "services": [service_json(s) for s in agency.services.values()],
        "centres": [centre_json(c) for c in agency.centres.values()],
    }


def service_json(s: Service) -> dict[str, Any]:
    return {
        "id": s.id,
        "agency": s.agency_id,
        "jurisdiction": s.jurisdiction,
        "name": s.name,
        "duration_minutes": s.duration_minutes,
        "id_documents": list(s.id_documents),
        "required_documents": list(s.required_documents),
        "booking_window_days": {"min": s.min_days_ahead, "max": s.max_days_ahead},
        "per_rider_limit": s.per_rider_limit,
        "department": s.quota_department,
        "quota": (
            {"per_day": s.quota_per_day, "per_week": s.quota_per_week}
            if s.quota_per_day or s.quota_per_week
            else None
        ),
    }


def centre_json(c: Centre) -> dict[str, Any]:
    return {
        "id": c.id,
        "kind": "kiosk" if c.kiosk else "service_centre",
        "bookable": not c.kiosk,
        "data_stays_in": c.data_stays_in,
        "served_from": c.served_from,
        "agency": c.agency_id,
        "name": c.name,
        "address": c.address,
        "region": c.region,
        "city": c.city,
        "time_zone": c.time_zone,
        "opening_hours": {
            WEEKDAYS[day]: [f"{a.strftime('%H:%M')}-{b.strftime('%H:%M')}" for a, b in intervals]
            for day, intervals in sorted(c.hours.items())
        },
        "closed_days": sorted(d.isoformat() for d in c.closed_days),
        "counters": [{"id": k.id, "services": sorted(k.services)} for k in c.counters],
        "services": sorted(c.kiosk_services or {s for k in c.counters for s in k.services}),
    }
