"""Time-of-day fares (HZMB shuttle): HK$65 06:00-24:00, HK$70 00:00-06:00, local time."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from bayaffairs.transit.fares import InvalidFareSettings
from bayaffairs.transit.model import FareEngine, UnknownStop
from tests.support import START
from tests.transit.fares_support import engine, trip

HK = ZoneInfo("Asia/Hong_Kong")
SHUTTLE = {
    "stops": ["hk_port_zhuhai_port", "hk_port_macao_port"],
    "periods": [["00:00", 7000], ["06:00", 6500]],
}


def shuttle(**extra: object) -> FareEngine:
    return engine("time_of_day", {**SHUTTLE, **extra}, "HKD", "Asia/Hong_Kong")


@pytest.mark.parametrize(
    ("local", "dollars", "rule"),
    [
        ("05:59", 70, "00:00-06:00 fare"),
        ("06:00", 65, "06:00-24:00 fare"),
        ("23:59", 65, "06:00-24:00 fare"),
        ("00:00", 70, "00:00-06:00 fare"),
    ],
)
def test_boundaries_in_local_time(local: str, dollars: int, rule: str) -> None:
    hour, minute = map(int, local.split(":"))
    at = datetime.combine(START.date(), time(hour, minute), HK)
    quote = shuttle().fare(trip("hk_port_zhuhai_port", at=at))
    assert (quote.amount.amount, quote.rule) == (dollars * 100, rule)


def test_utc_times_are_converted_to_the_operators_zone() -> None:
    # 21:59 UTC is 05:59 in Hong Kong; 22:00 UTC is 06:00.
    fares = shuttle()
    night = fares.fare(trip("hk_port_macao_port", at=datetime.combine(START.date(), time(21, 59), UTC)))
    day = fares.fare(trip("hk_port_macao_port", at=datetime.combine(START.date(), time(22, 0), UTC)))
    assert (night.amount.amount, day.amount.amount) == (7000, 6500)


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        shuttle().fare(trip("hk_port_macao_port", at=START.replace(tzinfo=None)))


def test_unknown_stop() -> None:
    with pytest.raises(UnknownStop):
        shuttle().fare(trip("lok_ma_chau"))


def test_max_fare_is_the_night_fare_with_the_concession() -> None:
    fares = shuttle(concessions={"child": {"kind": "percent_off", "percent": 50}})
    assert fares.max_fare("hk_port_zhuhai_port", "adult").amount.amount == 7000
    assert fares.max_fare("hk_port_zhuhai_port", "child").amount.amount == 3500


@pytest.mark.parametrize(
    ("periods", "key"),
    [
        ([["06:00", 6500]], "fares.periods"),
        ([["00:00", 7000], ["00:00", 6500]], "fares.periods"),
        ([["00:00", 7000], ["6h", 6500]], "fares.periods.1"),
        ([["00:00", 7000], ["24:00", 6500]], "fares.periods.1"),
        ([["00:00", -1]], "fares.periods.0"),
    ],
)
def test_bad_periods_name_the_key(periods: list[list[object]], key: str) -> None:
    with pytest.raises(InvalidFareSettings) as caught:
        shuttle(periods=periods)
    assert caught.value.key == key
