"""The values transit works with, and what a transit operator adapter provides.

Fares are computed in the operator's currency, in integer minor units. A fare engine (one per
fare model: flat, distance bands, origin-destination matrix, station-count bands, time of day)
prices one trip; concessions by rider category and transfer discounts are applied by the engine
from the operator's configuration.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

from bayaffairs.i18n import Text
from bayaffairs.money import Money

MODES = ("metro", "rail", "light_rail", "bus", "tram", "ferry", "shuttle")

# The states and values of taps and journeys, as the database constrains them (0003_transit.sql).
Direction = Literal["in", "out"]
TapSource = Literal["online", "offline"]  # scanned with the server, or validated at the gate
ScanDecision = Literal["open", "deny", "wait"]  # wait: an uploaded exit whose entry is not here yet
JourneyStatus = Literal["open", "completed", "unfinished", "repaired"]
# none: no fare yet; held: waiting for the rider's repair; then pending -> charging -> charged|failed
ChargeStatus = Literal["none", "held", "pending", "charging", "charged", "failed"]
FARE_MODELS = ("flat", "distance_bands", "od_matrix", "station_count", "time_of_day")


@dataclass(frozen=True)
class Stop:
    """A station or a route a gate can stand at (for buses: the route)."""

    id: str
    name: Text


@dataclass(frozen=True)
class PreviousLeg:
    """The rider's journey just before this one, for transfer discounts."""

    operator: str
    ended_at: datetime


@dataclass(frozen=True)
class Trip:
    """One journey to price. `exit_stop` is None for tap-in-only modes (flat bus fares)."""

    entry_stop: str
    exit_stop: str | None
    entered_at: datetime
    category: str = "adult"
    previous: PreviousLeg | None = None


@dataclass(frozen=True)
class FareParts:
    """How a fare came from the full fare: `concession` (the rider's category) and then each
    transfer discount taken off, in minor units of the fare's currency."""

    concession: int = 0
    transfers: tuple[tuple[str, int], ...] = ()


NO_PARTS = FareParts()  # a fare set by a rule: no concession or transfer known


@dataclass(frozen=True)
class FareQuote:
    amount: Money
    base: Money
    concession: str | None = None
    discounts: tuple[tuple[str, int], ...] = ()
    rule: str = ""

    @property
    def parts(self) -> FareParts:
        off = sum(amount for _, amount in self.discounts)
        return FareParts(max(0, self.base.amount - self.amount.amount - off), self.discounts)


@dataclass(frozen=True)
class OperatorRules:
    """How an operator treats taps.

    `tap_out`: whether riders tap out (metro) or only in (flat-fare buses).
    `max_journey_minutes`: after this, a journey without tap-out is unfinished.
    `tap_out_without_tap_in`: "deny" at the gate, or "max_fare" from the exit station.
    `unfinished_fare`: what an unfinished journey costs: "max_fare" (the network's maximum from
    the entry station) or "entry_fare" (the fare of staying at the entry station).
    `max_stale_hours`: how long an offline gate may decide on the keys and deny list it last
    synced; past it, `stale_policy`: "deny" everyone, or "flag" (open, and flag the taps for the
    operator's review).
    `double_tap_seconds`: on an operator without tap-out, the same rider tapping in again at the
    same stop or vehicle this soon is let through on the journey already paid (0: never). With
    tap-out, a second entry at the same station this soon, before any exit, is the same entry.
    `overtime_surcharge`: added (minor units of the operator's currency) to the fare of a journey
    whose tap-out came after `max_journey_minutes` (a late tap-out); 0: none.
    `self_repairs_per_month`: how many unfinished journeys a rider may repair a month without the
    operator's review (beyond it, a repair is a request the operator approves or refuses).
    """

    tap_out: bool
    max_journey_minutes: int = 240
    tap_out_without_tap_in: str = "max_fare"
    unfinished_fare: str = "max_fare"
    max_stale_hours: int = 24
    stale_policy: str = "deny"
    double_tap_seconds: int = 60
    overtime_surcharge: int = 0
    self_repairs_per_month: int = 2


@dataclass(frozen=True)
class OperatorInfo:
    id: str
    name: Text
    modes: tuple[str, ...]
    currency: str
    fare_model: str
    time_zone: str
    stops: Sequence[Stop] = field(default_factory=tuple)
    demo_tariff: bool = True


@runtime_checkable
class FareEngine(Protocol):
    def fare(self, trip: Trip) -> FareQuote:
        """Price a trip; raises UnknownStop for a stop the operator does not have."""
        ...

    def max_fare(self, stop: str, category: str) -> FareQuote:
        """The highest fare of a journey starting or ending at `stop` (penalties, repairs)."""
        ...


class UnknownStop(ValueError):
    pass
