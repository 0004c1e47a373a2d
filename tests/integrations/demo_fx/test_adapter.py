"""Fixed demo exchange rates from config."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bayaffairs.config.errors import ConfigError
from bayaffairs.errors import PartnerError
from tests.integrations.support import build_adapter
from tests.support import START

AT = START


@pytest.mark.parametrize(
    ("pair", "rate"),
    [(("CNY", "HKD"), "1.0870"), (("CNY", "MOP"), "1.1196"), (("HKD", "MOP"), "1.0300")],
)
async def test_default_demo_rates(pair: tuple[str, str], rate: str) -> None:
    assert (await build_adapter("demo_fx").rate(*pair, AT)).rate == Decimal(rate)


async def test_same_currency_is_rate_one() -> None:
    assert (await build_adapter("demo_fx").rate("MOP", "MOP", AT)).rate == 1


async def test_opposite_pair_is_the_inverse_to_ten_places() -> None:
    fx = await build_adapter("demo_fx").rate("HKD", "CNY", AT)
    assert fx.rate == Decimal("0.9199632015")
    assert fx.rate.as_tuple().exponent == -10


async def test_rate_records_pair_time_and_instance() -> None:
    fx = await build_adapter("demo_fx", instance="fx_demo").rate("CNY", "HKD", AT)
    assert (fx.base, fx.quote, fx.as_of, fx.source) == ("CNY", "HKD", AT, "fx_demo")


async def test_configured_rates_replace_the_defaults() -> None:
    fx = build_adapter("demo_fx", {"rates": {"HKD/CNY": "0.92"}})
    assert (await fx.rate("HKD", "CNY", AT)).rate == Decimal("0.92")
    with pytest.raises(PartnerError):
        await fx.rate("CNY", "MOP", AT)


async def test_unknown_pair_is_fx_rate_unavailable() -> None:
    fx = build_adapter("demo_fx", {"rates": {"HKD/CNY": "0.92"}})
    with pytest.raises(PartnerError) as caught:
        await fx.rate("MOP", "CNY", AT)
    assert caught.value.code == "fx_rate_unavailable"
    assert caught.value.details == {"partner": "demo_fx"}


@pytest.mark.parametrize(
    "rates",
    [
        {"HKD/CNY": "0"},
        {"HKD/CNY": "-1"},
        {"HKD/CNY": "abc"},
        {"HKD-CNY": "0.92"},
        {"HKD/USD": "0.13"},
        {"HKD/HKD": "1"},
        {"HKD/CNY": "0.92", "CNY/HKD": "1.09"},
    ],
)
def test_bad_rates_are_refused_in_config(rates: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="rates"):
        build_adapter("demo_fx", {"rates": rates})
