"""Fares by the time of boarding (HZMB shuttle: HK$65 06:00-24:00, HK$70 00:00-06:00).

Periods start at a local time of the operator's time zone and run until the next one starts;
the first must start at 00:00. Riders tap in only, and every stop costs the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from bayaffairs.adapters.protocols import RIDER_CATEGORIES
from bayaffairs.transit.fares.base import PrecomputedEngine
from bayaffairs.transit.fares.concessions import InvalidFareSettings, Pricing
from bayaffairs.transit.model import FareQuote, Trip, UnknownStop

MINUTES_PER_DAY = 24 * 60


def minute_of_day(text: str) -> int:
    hours, sep, minutes = text.partition(":")
    if not (sep and hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        raise ValueError(f"{text!r} is not HH:MM")
    value = int(hours) * 60 + int(minutes)
    if int(minutes) >= 60 or value >= MINUTES_PER_DAY:
        raise ValueError(f"{text!r} is not a time of day")
    return value


def hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


class TimeOfDay(PrecomputedEngine):
    model = "time_of_day"

    def __init__(
        self, pricing: Pricing, stops: Sequence[str], periods: Sequence[tuple[int, int]], time_zone: str
    ) -> None:
        """`periods`: (start minute of day, full fare), sorted, the first starting at 0."""
        super().__init__(pricing, stops)
        self.zone = ZoneInfo(time_zone)
        self._period_of_minute: list[int] = []
        self._quotes: dict[tuple[int, str], FareQuote] = {}
        for index, (start, base) in enumerate(periods):
            end = periods[index + 1][0] if index + 1 < len(periods) else MINUTES_PER_DAY
            self._period_of_minute.extend([index] * (end - start))
            rule = f"{hhmm(start)}-{hhmm(end)} fare"
            for category in RIDER_CATEGORIES:
                quote = self._quotes[index, category] = pricing.quote(base, category, rule)
                for stop in stops:
                    self._keep_max(stop, category, quote)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], pricing: Pricing, time_zone: str) -> TimeOfDay:
        """Keys: `stops` and `periods` [["HH:MM", fare]] (local start time, minor units)."""
        periods = []
        for index, (start, fare) in enumerate(settings["periods"]):
            try:
                periods.append((minute_of_day(start), fare))
            except ValueError as exc:
                raise InvalidFareSettings(f"fares.periods.{index}", str(exc)) from None
            if fare < 0:
                raise InvalidFareSettings(f"fares.periods.{index}", "fares cannot be negative")
        periods.sort()
        starts = [start for start, _ in periods]
        if not periods or starts[0] != 0 or len(set(starts)) != len(starts):
            raise InvalidFareSettings("fares.periods", "periods start at distinct times, the first at 00:00")
        return cls(pricing, settings["stops"], periods, time_zone)

    def _lookup(self, trip: Trip) -> FareQuote:
        if trip.entered_at.tzinfo is None:
            raise ValueError("entered_at must carry a time zone")
        if trip.entry_stop not in self.stops:
            raise UnknownStop(trip.entry_stop)
        local = trip.entered_at.astimezone(self.zone)
        period = self._period_of_minute[local.hour * 60 + local.minute]
        try:
            return self._quotes[period, trip.category]
        except KeyError:
            self._check(category=trip.category)
            raise
