"""Station-count bands (Macao LRT: MOP 6 / 8 / 10 / 12 for up to 3 / 6 / 10 / more stations).

Each segment carries how many stations it counts for (a sea crossing counts 2); stations
travelled is the smallest total over the line graph.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Any

from bayaffairs.transit.fares.base import PairEngine
from bayaffairs.transit.fares.concessions import InvalidFareSettings, Pricing
from bayaffairs.transit.fares.graph import all_pairs_shortest


def band_fare(bands: Sequence[tuple[int, int]], beyond_fare: int | None, stations: int) -> tuple[int, str]:
    for up_to, fare in bands:
        if stations <= up_to:
            return fare, f"{stations} stations, band up to {up_to}"
    if beyond_fare is None:
        return bands[-1][1], f"{stations} stations, last band"
    return beyond_fare, f"{stations} stations, band above {bands[-1][0]}"


class StationCount(PairEngine):
    model = "station_count"

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], pricing: Pricing, time_zone: str) -> StationCount:
        """Keys: `stops`, `segments` [[a, b, stations]], `bands` [[up_to_stations, fare]] and
        optional `beyond_fare` (else trips past the last band pay its fare)."""
        bands = [(int(up_to), int(fare)) for up_to, fare in settings["bands"]]
        beyond = settings.get("beyond_fare")
        if not bands:
            raise InvalidFareSettings("fares.bands", "give at least one band")
        fares = [fare for _, fare in bands] + ([] if beyond is None else [beyond])
        up_tos = [up_to for up_to, _ in bands]
        if up_tos[0] < 0 or any(b <= a for a, b in pairwise(up_tos)):
            raise InvalidFareSettings("fares.bands", "station counts must grow band by band")
        if fares[0] < 0 or any(b < a for a, b in pairwise(fares)):
            raise InvalidFareSettings("fares.bands", "fares must not fall as stations grow")
        segments = []
        for index, (a, b, weight) in enumerate(settings["segments"]):
            if weight != int(weight):
                raise InvalidFareSettings(f"segments.{index}", "stations counted must be a whole number")
            segments.append((a, b, int(weight)))
        stops: Sequence[str] = settings["stops"]
        travelled = all_pairs_shortest(stops, segments)
        return cls(pricing, stops, {pair: band_fare(bands, beyond, n) for pair, n in travelled.items()})
