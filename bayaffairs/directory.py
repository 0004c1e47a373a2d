"""The directory: jurisdictions, cities and the transit operators enabled in them.

Built from config and the enabled adapters; answers in the caller's language.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from bayaffairs.adapters.protocols import (
    BorderCarrier,
    CounterAgency,
    IdentityProvider,
    PaymentProvider,
    TransitOperator,
)
from bayaffairs.adapters.registry import Adapters
from bayaffairs.config import Config
from bayaffairs.i18n import localise


class Directory:
    def __init__(self, config: Config, adapters: Adapters) -> None:
        self.config = config
        self.adapters = adapters
        self._regions: dict[str, list[dict[str, Any]]] = {}

    def regions(self, language: str) -> list[dict[str, Any]]:
        """Config and adapters do not change while the app runs: built once per language."""
        if language not in self._regions:
            self._regions[language] = self._build_regions(language)
        return self._regions[language]

    def _build_regions(self, language: str) -> list[dict[str, Any]]:
        operators_by_city: dict[str | None, list[dict[str, Any]]] = {}
        for adapter in self.adapters.of_kind(TransitOperator):
            info = localise(adapter.describe(), language)
            operators_by_city.setdefault(adapter.city, []).append(info)
        out = []
        for jurisdiction in self.config.jurisdictions.values():
            cities = [
                {
                    "id": city.id,
                    "name": city.name.get(language),
                    "currency": jurisdiction.currency,
                    "time_zone": jurisdiction.time_zone,
                    "languages": list(jurisdiction.languages),
                    "scope_code": city.scope_code,
                    "operators": sorted(operators_by_city.get(city.id, []), key=lambda o: o["id"]),
                }
                for city in self.config.cities.values()
                if city.jurisdiction == jurisdiction.id
            ]
            out.append(
                {
                    "id": jurisdiction.id,
                    "region": jurisdiction.region,
                    "name": jurisdiction.name.get(language),
                    "currency": jurisdiction.currency,
                    "time_zone": jurisdiction.time_zone,
                    "languages": list(jurisdiction.languages),
                    "resident_documents": list(jurisdiction.resident_documents),
                    "cities": cities,
                }
            )
        return out

    def stations(self, operator: str) -> Collection[str]:
        """The ids of an operator's stations or routes (where its gates may stand)."""
        adapter = self.adapters.get(operator, TransitOperator)
        return () if adapter is None else {stop.id for stop in adapter.info().stops}

    def providers(self, language: str) -> dict[str, list[dict[str, Any]]]:
        """The sign-in and payment providers this deployment enables, so a client builds its
        sign-in and wallet screens from configuration instead of a list of its own."""
        identity = [
            {
                "id": a.id,
                "name": a.name.get(language),
                # Only a provider that verifies nothing (dev) sets it: a client may then offer a
                # handle, a name and a category.
                "unverified": bool(getattr(a, "unverified", False)),
            }
            for a in self.adapters.of_kind(IdentityProvider)
        ]
        payment = [
            {"id": a.id, "name": a.name.get(language), "currencies": sorted(a.currencies)}
            for a in self.adapters.of_kind(PaymentProvider)
        ]
        return {"identity": identity, "payment": payment}

    def scopes(self, kind: str) -> Collection[str]:
        """The scope ids a credential of `kind` may be issued for."""
        if kind in ("gate", "operator"):
            return {a.id for a in self.adapters.of_kind(TransitOperator)}
        if kind == "carrier":
            return {a.id for a in self.adapters.of_kind(BorderCarrier)}
        if kind in ("counter", "display"):
            return {
                c.id
                for agency in self.adapters.of_kind(CounterAgency)
                for c in agency.catalog().centres.values()
                if not c.kiosk  # walk-up machines: no counter, no hall screen
            }
        return ()
