"""Builds an operator's fare engine from its settings, by fare model."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bayaffairs.transit.fares.concessions import Pricing
from bayaffairs.transit.fares.distance_bands import DistanceBands
from bayaffairs.transit.fares.flat import FlatFare
from bayaffairs.transit.fares.od_matrix import OdMatrix
from bayaffairs.transit.fares.station_count import StationCount
from bayaffairs.transit.fares.time_of_day import TimeOfDay
from bayaffairs.transit.model import FareEngine

ENGINES: dict[str, Callable[[Mapping[str, Any], Pricing, str], FareEngine]] = {
    "flat": FlatFare.from_settings,
    "distance_bands": DistanceBands.from_settings,
    "od_matrix": OdMatrix.from_settings,
    "station_count": StationCount.from_settings,
    "time_of_day": TimeOfDay.from_settings,
}
# The models whose fare depends on where the rider leaves: their riders must tap out.
PRICED_BY_EXIT = frozenset({"distance_bands", "od_matrix", "station_count"})


def build_engine(fare_model: str, settings: Mapping[str, Any], currency: str, time_zone: str) -> FareEngine:
    """The engine for `fare_model`.

    `settings` holds `stops` (ids), the model's own keys (see each engine's `from_settings`),
    and optional `concessions` {category: {kind, ...}} and `transfers` [{name, from,
    within_minutes, amount | percent}]. Amounts are minor units of `currency`. Raises
    InvalidFareSettings (a ValueError naming the key) for settings it cannot price with.
    """
    try:
        make = ENGINES[fare_model]
    except KeyError:
        raise ValueError(f"unknown fare model {fare_model!r}") from None
    return make(settings, Pricing.from_settings(settings, currency), time_zone)
