"""Flat fares: one fare per boarding, optionally per route (Macao buses MOP 6, city buses RMB 2).

Riders tap in only; the stop is the route the bus runs, and the exit stop is ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bayaffairs.adapters.protocols import RIDER_CATEGORIES
from bayaffairs.transit.fares.base import PrecomputedEngine
from bayaffairs.transit.fares.concessions import InvalidFareSettings, Pricing
from bayaffairs.transit.model import FareQuote, Trip, UnknownStop


class FlatFare(PrecomputedEngine):
    model = "flat"

    def __init__(self, pricing: Pricing, fares: Mapping[str, tuple[int, str]]) -> None:
        """`fares`: stop (route) -> (full fare, rule text)."""
        super().__init__(pricing, fares)
        self._quotes: dict[tuple[str, str], FareQuote] = {}
        for stop, (base, rule) in fares.items():
            for category in RIDER_CATEGORIES:
                quote = self._quotes[stop, category] = pricing.quote(base, category, rule)
                self._keep_max(stop, category, quote)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], pricing: Pricing, time_zone: str) -> FlatFare:
        """Keys: `stops`, `fare` (minor units) and optional `route_fares` {stop: fare}."""
        default = settings["fare"]
        route_fares = settings.get("route_fares") or {}
        unknown = set(route_fares) - set(settings["stops"])
        if unknown:
            raise InvalidFareSettings("fares.route_fares", f"unknown route {sorted(unknown)[0]!r}")
        fares = {
            stop: (route_fares[stop], f"route {stop} fare") if stop in route_fares else (default, "flat fare")
            for stop in settings["stops"]
        }
        if any(fare < 0 for fare, _ in fares.values()):
            raise InvalidFareSettings("fares", "fares cannot be negative")
        return cls(pricing, fares)

    def _lookup(self, trip: Trip) -> FareQuote:
        try:
            return self._quotes[trip.entry_stop, trip.category]
        except KeyError:
            self._check(trip.entry_stop, category=trip.category)
            raise UnknownStop(trip.entry_stop) from None
