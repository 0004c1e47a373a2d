"""Currency conversion at the FX source's rate, for charging a fare in the rider's currency.

A fare is priced in the operator's or carrier's currency and charged in the rider's wallet
currency without any exchange step for the rider: the fare is converted at the FX source's rate,
and the rate and both amounts are stored with the journey or booking.

Rounding is explicit: the charge is rounded half up to the minor unit of the rider's currency
(ROUND_HALF_UP on the exact product fare × rate).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from bayaffairs.adapters.protocols import FxRate, FxRateSource
from bayaffairs.clock import Clock
from bayaffairs.money import MINOR_UNITS, Money

FRESH_SECONDS = 60.0  # a rate this recent is used as it is
STALE_SECONDS = 3600.0  # older than fresh but younger than this: used while a refresh runs


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
    """Rates from the configured FX source, kept in the process, so that a scan (which prices
    inside its group commit) does not wait on a feed: a fresh rate is used as it is; a stale one
    (up to an hour) is used while a refresh runs in the background; only a pair never fetched, or
    last fetched over an hour ago, waits for the source. `warm()` fetches every pair at start."""

    def __init__(self, source: FxRateSource | None, clock: Clock) -> None:
        self.source = source
        self.clock = clock
        self._rates: dict[tuple[str, str], tuple[FxRate, float]] = {}
        self._refreshing: dict[tuple[str, str], asyncio.Task[None]] = {}

    async def rate(self, base: str, quote: str, at: datetime) -> FxRate:
        if base == quote:
            return FxRate(base, quote, Decimal(1), at, "identity")
        cached = self._rates.get((base, quote))
        if cached is not None:
            rate, fetched = cached
            age = time.monotonic() - fetched
            if age < FRESH_SECONDS:
                return rate
            if age < STALE_SECONDS:
                if (base, quote) not in self._refreshing:
                    task = asyncio.create_task(self._refresh(base, quote, at))
                    self._refreshing[(base, quote)] = task
                    task.add_done_callback(lambda _t: self._refreshing.pop((base, quote), None))
                return rate
        return await self._fetch(base, quote, at)

    async def _fetch(self, base: str, quote: str, at: datetime) -> FxRate:
        if self.source is None:
            raise LookupError("no FX rate source is enabled")
        rate = await self.source.rate(base, quote, at)
        self._rates[(base, quote)] = (rate, time.monotonic())
        return rate

    async def _refresh(self, base: str, quote: str, at: datetime) -> None:
        with contextlib.suppress(Exception):  # the stale rate stays until a refresh works
            await self._fetch(base, quote, at)

    async def warm(self, currencies: Iterable[str]) -> None:
        pairs = [(b, q) for b in currencies for q in currencies if b != q]
        now = self.clock.now()
        await asyncio.gather(*(self._refresh(b, q, now) for b, q in pairs))

    async def charge(self, fare: Money, currency: str, at: datetime) -> Charge:
        rate = await self.rate(fare.currency, currency, at)
        amount = convert(fare.amount, fare.currency, currency, rate.rate)
        return Charge(fare, Money(amount, currency), rate.rate, rate.source)
