"""Distance bands (Guangzhou, Shenzhen, Foshan metros; Dongguan Line 2).

Guangzhou's shape: a base fare for the first `base_km`, then `increment` more per `every_km`
started within each step up to its `up_to_km`, then per `beyond_every_km` further on, optionally
capped at `max_fare`. Distance is the shortest path over the network, so the fare between two
stations does not depend on the route the rider took.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bayaffairs.transit.fares.base import PairEngine
from bayaffairs.transit.fares.concessions import InvalidFareSettings, Pricing
from bayaffairs.transit.fares.graph import all_pairs_shortest


def metres(km: float | int | Decimal) -> int:
    """Kilometres from config as whole metres, so band edges compare exactly (no 12.0000001 km)."""
    return round(Decimal(str(km)) * 1000)


@dataclass(frozen=True)
class Bands:
    base_fare: int
    base_m: int
    steps: tuple[tuple[int, int], ...]  # (up to metres, every metres)
    increment: int
    beyond_every_m: int | None = None
    max_fare: int | None = None

    def price(self, distance_m: int) -> tuple[int, int, bool]:
        """(fare, increments past the base, whether the cap applied); non-decreasing in distance."""
        count, lower = 0, self.base_m
        for upper, every in self.steps:
            if distance_m <= lower:
                break
            count += -(-(min(distance_m, upper) - lower) // every)
            lower = upper
        else:
            if self.beyond_every_m and distance_m > lower:
                count += -(-(distance_m - lower) // self.beyond_every_m)
        fare = self.base_fare + count * self.increment
        if self.max_fare is not None and fare > self.max_fare:
            return self.max_fare, count, True
        return fare, count, False

    @classmethod
    def from_settings(cls, s: Mapping[str, Any]) -> Bands:
        base_m = metres(s["base_km"])
        steps = tuple((metres(up_to), metres(every)) for up_to, every in s.get("steps") or ())
        lower = base_m
        for index, (upper, every) in enumerate(steps):
            if upper <= lower or every <= 0:
                raise InvalidFareSettings(
                    f"fares.steps.{index}", "up_to_km must grow step by step and every_km be positive"
                )
            lower = upper
        beyond = s.get("beyond_every_km")
        bands = cls(
            base_fare=s["base_fare"],
            base_m=base_m,
            steps=steps,
            increment=s["increment"],
            beyond_every_m=None if beyond is None else metres(beyond),
            max_fare=s.get("max_fare"),
        )
        if bands.base_fare < 0 or bands.increment < 0 or base_m <= 0 or (bands.beyond_every_m or 1) <= 0:
            raise InvalidFareSettings("fares", "fares, increments and distances cannot be negative")
        if bands.max_fare is not None and bands.max_fare < bands.base_fare:
            raise InvalidFareSettings("fares.max_fare", "is below the base fare")
        return bands

    def rule(self, distance_m: int) -> str:
        _, count, capped = self.price(distance_m)
        text = f"{distance_m / 1000:.1f} km, {count + 1} band{'s' if count else ''}"
        return text + ", capped at the maximum fare" if capped else text


class DistanceBands(PairEngine):
    model = "distance_bands"
    # What a through-fare rule joins (bayaffairs/transit/through.py): the tariff and the track.
    bands: Bands
    segments: tuple[tuple[str, str, int], ...] = ()

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], pricing: Pricing, time_zone: str) -> DistanceBands:
        """Keys: `stops`, `segments` [[a, b, km]], `base_fare`, `base_km`, `steps`
        [[up_to_km, every_km]], `increment`, optional `beyond_every_km` and `max_fare`."""
        bands = Bands.from_settings(settings)
        stops: Sequence[str] = settings["stops"]
        segments = [(a, b, metres(km)) for a, b, km in settings["segments"]]
        distances = all_pairs_shortest(stops, segments)
        fares = {pair: (bands.price(d)[0], bands.rule(d)) for pair, d in distances.items()}
        engine = cls(pricing, stops, fares)
        engine.bands, engine.segments = bands, tuple(segments)
        return engine
