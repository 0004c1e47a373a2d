"""Pricing a journey in the operator's currency and charging it in the rider's, without any
exchange step for the rider: the fare is converted at the FX source's rate, and the rate and
both amounts are stored with the journey.

Rounding is explicit: the charge is rounded half up to the minor unit of the rider's currency
(ROUND_HALF_UP on the exact product fare × rate).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from bayaffairs.adapters.protocols import FxRate, FxRateSource
from bayaffairs.clock import Clock
from bayaffairs.money import MINOR_UNITS, Money

RATE_CACHE_SECONDS = 60.0


def convert(amount: int, source: str, target: str, rate: Decimal) -> int:
    """`amount` minor units of `source` in minor units of `target`, rounded half up."""
    scale = Decimal(10) ** (MINOR_UNITS[target] - MINOR_UNITS[source])
    exact = Decimal(amount) * rate * scale
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class Charge:
    fare: Money
    charge: Money
    rate: Decimal
    source: str


class Converter:
    """Rates from the configured FX source, kept for a minute (a scan must not wait on a feed)."""

    def __init__(self, source: FxRateSource | None, clock: Clock) -> None:
        self.source = source
        self.clock = clock
        self._rates: dict[tuple[str, str], tuple[FxRate, float]] = {}

    async def rate(self, base: str, quote: str, at: datetime) -> FxRate:
        if base == quote:
            return FxRate(base, quote, Decimal(1), at, "identity")
        cached = self._rates.get((base, quote))
        if cached and time.monotonic() - cached[1] < RATE_CACHE_SECONDS:
            return cached[0]
        if self.source is None:
            raise LookupError("no FX rate source is enabled")
        rate = await self.source.rate(base, quote, at)
        self._rates[(base, quote)] = (rate, time.monotonic())
        return rate

    async def charge(self, fare: Money, currency: str, at: datetime) -> Charge:
        rate = await self.rate(fare.currency, currency, at)
        amount = convert(fare.amount, fare.currency, currency, rate.rate)
        return Charge(fare, Money(amount, currency), rate.rate, rate.source)
