"""Helpers shared by the fare-engine tests: trips at a fixed time and the published tariffs."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bayaffairs.transit.fares import build_engine
from bayaffairs.transit.model import FareEngine, PreviousLeg, Trip
from tests.support import START

NOON = START.replace(hour=12)  # a weekday, 12:00 in Hong Kong, Macao and the mainland

# Guangzhou Metro (gba.md section 2): RMB 2 for 4 km, +1 per 4 km to 12, per 6 km to 24, per 8 beyond.
GUANGZHOU_BANDS: dict[str, Any] = {
    "base_fare": 200,
    "base_km": 4,
    "steps": [[12, 4], [24, 6]],
    "beyond_every_km": 8,
    "increment": 100,
}


def trip(
    entry: str,
    exit_: str | None = None,
    *,
    category: str = "adult",
    at: datetime = NOON,
    previous: PreviousLeg | None = None,
) -> Trip:
    return Trip(entry, exit_, at, category, previous)


def engine(
    model: str,
    settings: Mapping[str, Any],
    currency: str = "CNY",
    time_zone: str = "Asia/Shanghai",
) -> FareEngine:
    return build_engine(model, settings, currency, time_zone)


def line(lengths: list[float]) -> dict[str, Any]:
    """Stops s0..sN on one line with the given segment lengths."""
    stops = [f"s{i}" for i in range(len(lengths) + 1)]
    return {"stops": stops, "segments": [[stops[i], stops[i + 1], km] for i, km in enumerate(lengths)]}
