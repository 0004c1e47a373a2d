"""A transit operator described entirely by its config block.

One adapter serves every bus, metro, light-rail, tram, ferry and shuttle operator: what differs
between them (names, stations or routes, fare model, tariff, tap rules, concessions, transfer
discounts) is data, validated by `Settings` in settings.py. Tariffs are demo data shaped like
the published ones (shared/domain/gba.md), and `describe()` says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any

from bayaffairs.adapters.protocols import TransitOperator
from bayaffairs.integrations.transit_operator.settings import Settings
from bayaffairs.transit.model import FareEngine, OperatorInfo, OperatorRules, Stop


class TransitOperatorAdapter(TransitOperator):
    Settings = Settings

    def describe(self) -> Mapping[str, Any]:
        info = self.info()
        return {
            "id": info.id,
            "name": info.name,
            "modes": list(info.modes),
            "currency": info.currency,
            "fare_model": info.fare_model,
            "stations": [{"id": stop.id, "name": stop.name} for stop in info.stops],
            "demo_tariff": info.demo_tariff,
        }

    def info(self) -> OperatorInfo:
        return self._info

    def rules(self) -> OperatorRules:
        return self._rules

    def fares(self) -> FareEngine:
        return self.settings["engine"]

    @cached_property
    def _info(self) -> OperatorInfo:
        s = self.settings
        return OperatorInfo(
            id=self.id,
            name=s["name"],
            modes=tuple(s["modes"]),
            currency=s["currency"],
            fare_model=s["fare_model"],
            time_zone=s["time_zone"],
            stops=tuple(Stop(stop["id"], stop["name"]) for stop in s["stops"]),
            demo_tariff=s["demo_tariff"],
        )

    @cached_property
    def _rules(self) -> OperatorRules:
        return OperatorRules(**self.settings["rules"])
