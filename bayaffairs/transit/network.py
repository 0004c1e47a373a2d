"""The transit operators config enables, with the city each runs in and its ride-code scope,
and the through-fare rules that join some of them into one network (bayaffairs/transit/through.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from bayaffairs.adapters.protocols import TransitOperator
from bayaffairs.adapters.registry import Adapters
from bayaffairs.config import Config
from bayaffairs.config.errors import ConfigError
from bayaffairs.transit.fares.concessions import InvalidFareSettings
from bayaffairs.transit.model import FareEngine, FareQuote, OperatorInfo, OperatorRules, Trip
from bayaffairs.transit.through import ThroughFares


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
    # The city scopes whose ride codes its gates take: its own, and those of the operators a
    # through-fare rule joins it with (a rider's code for either city opens both networks).
    scope_codes: frozenset[int] = frozenset()
    # Operators whose open journey a tap-out at this operator completes (itself excluded).
    partners: tuple[str, ...] = ()

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
                scope_codes=frozenset({city.scope_code}),
            )
        self.through: dict[str, ThroughFares] = {}
        self._through_of: dict[str, ThroughFares] = {}
        for city in self.cities.values():
            for rule_id, settings in city.through_fares.items():
                self._add_rule(city.id, rule_id, settings)

    def _add_rule(self, city_id: str, rule_id: str, settings: Mapping[str, Any]) -> None:
        source, key = f"config/cities/{city_id}.toml", f"through_fares.{rule_id}"
        if rule_id in self.through:
            raise ConfigError(source, key, "another city file declares a through-fare rule of this id")
        members = [self.operators.get(o) for o in settings["operators"]]
        missing = [o for o, m in zip(settings["operators"], members, strict=True) if m is None]
        if missing:
            problem = f"{missing[0]!r} is not an enabled transit operator"
            raise ConfigError(source, f"{key}.operators", problem)
        taken = [o for o in settings["operators"] if o in self._through_of]
        if taken:
            raise ConfigError(source, f"{key}.operators", f"{taken[0]!r} is in another through-fare rule")
        try:
            rule = ThroughFares.shared(rule_id, settings, {o.id: o.fares for o in members if o is not None})
        except InvalidFareSettings as exc:
            raise ConfigError(source, f"{key}.{exc.key}", exc.problem) from None
        self.through[rule_id] = rule
        scopes = frozenset(self.operators[o].scope_code for o in rule.operators)
        for operator_id in rule.operators:
            self._through_of[operator_id] = rule
            self.operators[operator_id] = replace(
                self.operators[operator_id],
                scope_codes=scopes,
                partners=tuple(o for o in rule.operators if o != operator_id),
            )

    def through_fares(self, entry_operator: str, exit_operator: str) -> ThroughFares | None:
        """The rule that prices a journey entering at one operator and leaving at the other."""
        rule = self._through_of.get(entry_operator)
        return rule if rule is not None and rule.covers(entry_operator, exit_operator) else None

    def fare(
        self, entry_operator: str, exit_operator: str, trip: Trip
    ) -> tuple[FareQuote, dict[str, int] | None]:
        """A tapped-out trip's fare and, for a through journey split between operators, their
        weights in its revenue (None: all the entry operator's). Raises UnknownStop."""
        rule = self.through_fares(entry_operator, exit_operator)
        if rule is None or trip.exit_stop is None:
            return self.operators[exit_operator].fares.fare(trip), None
        quote = rule.fare(entry_operator, trip)
        weights = rule.share_weights(trip.entry_stop, trip.exit_stop)
        return quote, None if set(weights) <= {entry_operator} else weights

    def exit_operators(self, entry_operator: str) -> tuple[str, ...]:
        """The operators at whose stops a journey entered at `entry_operator` may end."""
        operator = self.operators.get(entry_operator)
        return () if operator is None else (operator.id, *operator.partners)

    def operator(self, operator_id: str) -> Operator | None:
        return self.operators.get(operator_id)

    def owner_of(self, stop: str) -> str | None:
        """Which operator has a stop of this id (for telling a foreign station from a typo)."""
        return next((o.id for o in self.operators.values() if o.has_stop(stop)), None)

    def scope_of_city(self, city_id: str) -> int | None:
        city = self.cities.get(city_id)
        return city.scope_code if city else None
