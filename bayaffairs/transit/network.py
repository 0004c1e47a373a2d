"""The transit operators config enables, with the city each runs in and its ride-code scope."""

from __future__ import annotations

from dataclasses import dataclass

from bayaffairs.adapters.protocols import TransitOperator
from bayaffairs.adapters.registry import Adapters
from bayaffairs.config import Config
from bayaffairs.transit.model import FareEngine, OperatorInfo, OperatorRules


@dataclass(frozen=True)
class Operator:
    id: str
    city: str
    jurisdiction: str
    scope_code: int
    info: OperatorInfo
    rules: OperatorRules
    fares: FareEngine
    stop_ids: frozenset[str] = frozenset()

    @property
    def currency(self) -> str:
        return self.info.currency

    def has_stop(self, stop: str) -> bool:
        return stop in self.stop_ids


class Network:
    def __init__(self, config: Config, adapters: Adapters) -> None:
        self.cities = config.cities
        self.operators: dict[str, Operator] = {}
        for adapter in adapters.of_kind(TransitOperator):
            if adapter.city is None:
                continue  # an operator is enabled in a city file
            city = config.cities[adapter.city]
            info = adapter.info()
            self.operators[adapter.id] = Operator(
                id=adapter.id,
                city=city.id,
                jurisdiction=city.jurisdiction,
                scope_code=city.scope_code,
                info=info,
                rules=adapter.rules(),
                fares=adapter.fares(),
                stop_ids=frozenset(s.id for s in info.stops),
            )

    def operator(self, operator_id: str) -> Operator | None:
        return self.operators.get(operator_id)

    def owner_of(self, stop: str) -> str | None:
        """Which operator has a stop of this id (for telling a foreign station from a typo)."""
        return next((o.id for o in self.operators.values() if o.has_stop(stop)), None)

    def scope_of_city(self, city_id: str) -> int | None:
        city = self.cities.get(city_id)
        return city.scope_code if city else None
