"""Every enabled agency's services and centres, looked up by id."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bayaffairs.appointments.catalog import centre_json, service_json
from bayaffairs.appointments.model import Agency, Centre, Service
from bayaffairs.errors import NotFound
from bayaffairs.i18n import Text


def localise(value: Any, language: str) -> Any:
    if isinstance(value, Text):
        return value.get(language)
    if isinstance(value, dict):
        return {k: localise(v, language) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [localise(v, language) for v in value]
    return value


class Catalogue:
    def __init__(self, agencies: Iterable[Agency], demo: Iterable[str] = ()) -> None:
        self.agencies = {a.id: a for a in agencies}
        self.demo = frozenset(demo)
        self.services: dict[str, Service] = {}
        self.centres: dict[str, Centre] = {}
        for agency in self.agencies.values():
            self.services.update(agency.services)
            self.centres.update(agency.centres)
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

    def agency_of(self, service: Service) -> Agency:
        return self.agencies[service.agency_id]

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
