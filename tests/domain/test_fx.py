"""Converting a fare into the rider's currency: explicit half-up rounding, no exchange step."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bayaffairs.adapters.protocols import FxRate
from bayaffairs.errors import PartnerError
from bayaffairs.fx import Converter, convert
from bayaffairs.money import Money
from tests.support import START, MovableClock


@pytest.mark.parametrize(
    ("amount", "rate", "expected"),
    [
        (200, "1.0870", 217),  # 217.4 rounds down
        (250, "1.0870", 272),  # 271.75 rounds up
        (10, "0.05", 1),  # 0.5 rounds half up, never to even
        (30, "0.05", 2),  # 1.5 rounds half up
        (0, "1.2345", 0),
        (1, "0.4999", 0),
    ],
)
def test_convert_rounds_half_up_to_the_minor_unit(amount: int, rate: str, expected: int) -> None:
    assert convert(amount, "CNY", "HKD", Decimal(rate)) == expected


@given(
    st.integers(min_value=0, max_value=10_000_000), st.decimals(min_value="0.01", max_value="100", places=6)
)
def test_convert_is_within_half_a_minor_unit_and_never_negative(amount: int, rate: Decimal) -> None:
    charged = convert(amount, "HKD", "MOP", rate)
    assert charged >= 0
    assert abs(Decimal(charged) - Decimal(amount) * rate) <= Decimal("0.5")


class FlakyFeed:
    def __init__(self) -> None:
        self.calls = 0
        self.up = True

    async def rate(self, base: str, quote: str, at: datetime) -> FxRate:
        self.calls += 1
        if not self.up:
            raise PartnerError("fx_rate_unavailable")
        return FxRate(base, quote, Decimal("1.0300"), at, "flaky")


async def test_the_same_currency_is_never_converted() -> None:
    feed = FlakyFeed()
    charge = await Converter(feed, MovableClock()).charge(Money(600, "MOP"), "MOP", START)
    assert (charge.charge, charge.rate, feed.calls) == (Money(600, "MOP"), Decimal(1), 0)


async def test_rates_are_cached_so_a_scan_does_not_wait_on_the_feed() -> None:
    feed = FlakyFeed()
    converter = Converter(feed, MovableClock())
    for _ in range(5):
        charge = await converter.charge(Money(1000, "HKD"), "MOP", START)
    assert charge.charge == Money(1030, "MOP") and feed.calls == 1
