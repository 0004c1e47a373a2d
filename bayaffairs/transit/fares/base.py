"""What every fare engine shares: fares are priced once, when the engine is built.

Gates and scans price trips on a hot path, so an engine precomputes a quote for every
(entry, exit, category) it can be asked about. `fare()` is then a dict lookup plus, when the trip
has a previous leg, the transfer check; `max_fare()` is a dict lookup.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from bayaffairs.adapters.protocols import RIDER_CATEGORIES
from bayaffairs.transit.fares.concessions import Pricing
from bayaffairs.transit.model import FareQuote, Trip, UnknownStop


class PrecomputedEngine:
    """Base of the engines: subclasses fill `_max` and implement `_lookup`."""

    model: str

    def __init__(self, pricing: Pricing, stops: Iterable[str]) -> None:
        self.pricing = pricing
        self.stops = frozenset(stops)
        self._max: dict[tuple[str, str], FareQuote] = {}

    def fare(self, trip: Trip) -> FareQuote:
        quote = self._lookup(trip)
        return quote if trip.previous is None else self.pricing.with_transfer(quote, trip)

    def max_fare(self, stop: str, category: str) -> FareQuote:
        try:
            return self._max[stop, category]
        except KeyError:
            self._check(stop, category=category)
            raise UnknownStop(f"no fare from {stop!r}") from None

    def _lookup(self, trip: Trip) -> FareQuote:
        raise NotImplementedError

    def _check(self, *stops: str | None, category: str) -> None:
        """Say why a lookup missed: an unknown stop or an unknown rider category."""
        for stop in stops:
            if stop not in self.stops:
                raise UnknownStop(f"{self.model}: unknown stop {stop!r}")
        if category not in RIDER_CATEGORIES:
            raise ValueError(f"unknown rider category {category!r}")

    def _keep_max(self, stop: str, category: str, quote: FareQuote) -> None:
        best = self._max.get((stop, category))
        if best is None or (quote.amount.amount, quote.base.amount) > (best.amount.amount, best.base.amount):
            self._max[stop, category] = replace(quote, rule=f"max fare at {stop}: {quote.rule}")


class PairEngine(PrecomputedEngine):
    """Engines that price by entry and exit stop (metros): riders must tap out."""

    def __init__(
        self,
        pricing: Pricing,
        stops: Iterable[str],
        fares: Mapping[tuple[str, str], tuple[int, str]],
        published: Mapping[tuple[str, str, str], int] | None = None,
    ) -> None:
        """`fares`: (entry, exit) -> (full fare, rule text); `published`: fares the tariff sets
        for a category itself, used when config sets no concession for it."""
        super().__init__(pricing, stops)
        published = published or {}
        self._quotes: dict[tuple[str, str, str], FareQuote] = {}
        for (entry, exit_), (base, rule) in fares.items():
            for category in RIDER_CATEGORIES:
                quote = pricing.quote(base, category, rule, published.get((entry, exit_, category)))
                self._quotes[entry, exit_, category] = quote
                self._keep_max(entry, category, quote)
                self._keep_max(exit_, category, quote)

    def _lookup(self, trip: Trip) -> FareQuote:
        if trip.exit_stop is None:
            raise ValueError(f"{self.model} fares need the exit stop")
        try:
            return self._quotes[trip.entry_stop, trip.exit_stop, trip.category]
        except KeyError:
            self._check(trip.entry_stop, trip.exit_stop, category=trip.category)
            raise UnknownStop(f"no fare from {trip.entry_stop!r} to {trip.exit_stop!r}") from None
