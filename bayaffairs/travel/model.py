"""Value types of cross-border travel: what a carrier's timetable becomes once materialised.

A departure id is `<carrier>.<route>.<yyyymmdd>.<hhmm>`: carrier and route ids, the service date
and the local departure time (GTFS-style, may pass 24:00 for services after midnight). It is
stable across re-materialisation: a new timetable's run at the same minute is the same departure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from bayaffairs.i18n import Text
from bayaffairs.money import Money

TRAVEL_MODES = ("rail", "coach", "ferry", "bridge_bus")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# A booking: held -> paying -> confirmed -> cancelled, or released (expired, failed, given up).
BookingStatus = Literal["held", "paying", "confirmed", "released", "cancelled"]
TicketStatus = Literal["valid", "boarded", "cancelled"]
PaymentKind = Literal["charge", "refund"]


@dataclass(frozen=True)
class Port:
    """A station, pier or bus terminus; `jurisdiction` decides which border it stands behind."""

    id: str
    name: Text
    jurisdiction: str
    airside: bool = False  # transfer passengers only (SkyPier): no entry at this port


@dataclass(frozen=True)
class ControlPoint:
    id: str
    name: Text
    hours: str = "24h"


@dataclass(frozen=True)
class FareClass:
    id: str
    name: Text
    capacity: int


@dataclass(frozen=True)
class FarePeriod:
    """Fares that replace the route's own on some days and/or between two local times
    (`start` inclusive, `end` exclusive, wrapping midnight when end < start)."""

    fares: Mapping[str, int]
    days: tuple[str, ...] = ()
    start_minute: int | None = None
    end_minute: int | None = None

    def applies(self, weekday: str, minute_of_day: int) -> bool:
        if self.days and weekday not in self.days:
            return False
        if self.start_minute is None or self.end_minute is None:
            return True
        if self.start_minute <= self.end_minute:
            return self.start_minute <= minute_of_day < self.end_minute
        return minute_of_day >= self.start_minute or minute_of_day < self.end_minute


@dataclass(frozen=True)
class PassengerCategory:
    """A fare of its own for an age band (`below_age` or `from_age`, in whole years on the
    travel date), as a percentage of the fare class's fare, rounded down to the minor unit."""

    id: str
    percent: int
    below_age: int | None = None
    from_age: int | None = None

    def includes(self, age: int) -> bool:
        if self.below_age is not None and age >= self.below_age:
            return False
        return not (self.from_age is not None and age < self.from_age)


ADULT = "adult"


def age_on(birth: date, day: date) -> int:
    """Whole years from `birth` to `day` (a 29 February birthday falls on 1 March)."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


@dataclass(frozen=True)
class Service:
    """A GTFS-like calendar: weekdays it runs, an optional date window, added and removed dates."""

    id: str
    days: tuple[str, ...]
    start_date: date | None = None
    end_date: date | None = None
    added: tuple[date, ...] = ()
    removed: tuple[date, ...] = ()

    def runs_on(self, day: date) -> bool:
        if day in self.removed:
            return False
        if day in self.added:
            return True
        if self.start_date and day < self.start_date:
            return False
        if self.end_date and day > self.end_date:
            return False
        return WEEKDAYS[day.weekday()] in self.days


@dataclass(frozen=True)
class Route:
    id: str
    origin: str
    destination: str
    duration_minutes: int
    service: str
    control_point: str
    minutes: tuple[int, ...]  # departure times, minutes after the service day's midnight
    fares: Mapping[str, int]
    fare_periods: tuple[FarePeriod, ...] = ()

    def fare_for(self, fare_class: str, weekday: str, minute_of_day: int) -> int | None:
        for period in self.fare_periods:
            if fare_class in period.fares and period.applies(weekday, minute_of_day % (24 * 60)):
                return period.fares[fare_class]
        return self.fares.get(fare_class)


@dataclass(frozen=True)
class RefundTier:
    """At least `before_minutes` before departure, `percent` of what was paid comes back."""

    before_minutes: int
    percent: int


@dataclass(frozen=True)
class Departure:
    id: str
    carrier: str
    route: str
    origin: str
    destination: str
    service_date: date
    departs_at: datetime
    arrives_at: datetime
    fares: Mapping[str, Money]  # fare class -> fare in the carrier's currency
    capacity: Mapping[str, int] = field(default_factory=dict)


def departure_id(carrier: str, route: str, service_date: date, minute: int) -> str:
    return f"{carrier}.{route}.{service_date:%Y%m%d}.{minute // 60:02d}{minute % 60:02d}"


def split_departure_id(value: str) -> tuple[str, str, date, int] | None:
    """(carrier, route, service date, minute) of a departure id, or None when malformed."""
    parts = value.split(".")
    if len(parts) != 4 or not (len(parts[2]) == 8 and len(parts[3]) == 4):
        return None
    carrier, route, day, hhmm = parts
    if not (day.isdigit() and hhmm.isdigit()):
        return None
    try:
        service_date = date(int(day[:4]), int(day[4:6]), int(day[6:]))
    except ValueError:
        return None
    return carrier, route, service_date, int(hhmm[:2]) * 60 + int(hhmm[2:])
