"""Concessions and transfer discounts: what a rider pays on top of the tariff's full fare.

Rounding: a fraction of a minor unit is rounded half up (2.5 fen -> 3 fen).
"""

from __future__ import annotations

from datetime import timedelta
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bayaffairs.money import Money
from bayaffairs.transit.fares import InvalidFareSettings, percent_of
from bayaffairs.transit.fares.concessions import CONCESSION_KINDS, Concession, Pricing
from bayaffairs.transit.model import PreviousLeg, Trip
from tests.transit.fares_support import NOON, engine, trip

TWO_DOLLAR = Concession.from_settings("elderly", {"kind": "hk_two_dollar"})


def concession(**settings: object) -> Concession:
    return Concession.from_settings("child", settings)


@pytest.mark.parametrize(
    ("fare", "percent", "share"),
    [(5, 50, 3), (7, 50, 4), (249, 1, 2), (250, 1, 3), (251, 1, 3), (0, 20, 0), (100, Fraction(25, 2), 13)],
)
def test_percent_of_a_fare_rounds_half_up_to_the_minor_unit(fare: int, percent: int, share: int) -> None:
    assert percent_of(fare, Fraction(percent)) == share


@pytest.mark.parametrize(
    ("fare", "paid"),
    [
        (150, 150),  # a fare under HK$2 costs the fare
        (200, 200),
        (510, 200),
        (1000, 200),  # HK$10 or less: HK$2
        (1010, 202),  # above HK$10: 20% of the fare
        (2535, 507),
        (2537, 507),  # 5.074 -> 5.07
        (2538, 508),  # 5.076 -> 5.08
        (4860, 972),
    ],
)
def test_hk_two_dollar_scheme_after_the_2025_change(fare: int, paid: int) -> None:
    assert TWO_DOLLAR.apply(fare) == paid


def test_percent_off_rounds_half_up() -> None:
    half = concession(kind="percent_off", percent=50)
    assert [half.apply(f) for f in (600, 301, 1)] == [300, 151, 1]
    assert concession(kind="percent_off", percent=Fraction(25, 2)).apply(100) == 88  # 87.5 -> 88


def test_free_fixed_and_amount_off() -> None:
    assert concession(kind="free").apply(1200) == 0
    assert concession(kind="fixed", amount=130).apply(330) == 130
    assert concession(kind="fixed", amount=500).apply(330) == 330  # a fixed fare never raises one
    assert concession(kind="amount_off", amount=100).apply(330) == 230
    assert concession(kind="amount_off", amount=500).apply(330) == 0


def test_labels_default_to_category_and_kind() -> None:
    assert concession(kind="percent_off", percent=50).label == "child: 50% off"
    assert TWO_DOLLAR.label == "elderly: HK $2 scheme"
    assert concession(kind="free", label="child: free (under 1 m)").label == "child: free (under 1 m)"


@given(
    st.integers(0, 1_000_000),
    st.sampled_from(CONCESSION_KINDS),
    st.integers(1, 100),
    st.integers(0, 5_000),
)
def test_concessions_never_raise_a_fare_nor_go_below_zero(
    fare: int, kind: str, percent: int, amount: int
) -> None:
    settings: dict[str, object] = {"kind": kind, "percent": percent, "amount": amount}
    if kind == "hk_two_dollar":
        settings["threshold"] = amount
    assert 0 <= Concession.from_settings("child", settings).apply(fare) <= fare


@given(st.integers(0, 100_000), st.integers(0, 100_000))
def test_the_two_dollar_scheme_never_charges_more_for_a_cheaper_fare(a: int, b: int) -> None:
    low, high = sorted((a, b))
    assert TWO_DOLLAR.apply(low) <= TWO_DOLLAR.apply(high)


def test_quote_records_base_amount_and_concession() -> None:
    pricing = Pricing.from_settings(
        {"concessions": {"student": {"kind": "percent_off", "percent": 50}}}, "CNY"
    )
    quote = pricing.quote(500, "student", "flat fare")
    assert (quote.amount, quote.base) == (Money(250, "CNY"), Money(500, "CNY"))
    assert (quote.concession, quote.rule, quote.discounts) == ("student: 50% off", "flat fare", ())
    assert pricing.quote(500, "adult", "flat fare").concession is None


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"concessions": {"infant": {"kind": "free"}}}, "concessions.infant"),
        ({"concessions": {"child": {"kind": "half"}}}, "concessions.child.kind"),
        ({"concessions": {"child": {"kind": "percent_off", "percent": 0}}}, "concessions.child.percent"),
        ({"transfers": [{"name": "t", "from": ["x"], "within_minutes": 9}]}, "transfers.0"),
    ],
)
def test_bad_pricing_settings_name_the_key(settings: dict[str, object], key: str) -> None:
    with pytest.raises(InvalidFareSettings) as caught:
        Pricing.from_settings(settings, "CNY")
    assert caught.value.key == key


# Transfers: Shenzhen bus to Shenzhen Metro within 90 minutes is RMB 0.40 off.

METRO = {
    "stops": ["futian", "luohu"],
    "segments": [["futian", "luohu", 6]],
    "base_fare": 200,
    "base_km": 4,
    "steps": [[12, 4]],
    "increment": 100,
    "concessions": {"student": {"kind": "percent_off", "percent": 50}, "elderly": {"kind": "free"}},
    "transfers": [{"name": "bus_to_metro", "from": ["shenzhen_bus"], "within_minutes": 90, "amount": 40}],
}


def after_bus(minutes: float, operator: str = "shenzhen_bus") -> PreviousLeg:
    return PreviousLeg(operator, NOON - timedelta(minutes=minutes))


@pytest.mark.parametrize(
    ("minutes", "paid"), [(0, 260), (30, 260), (90, 260), (91, 300), (-4, 260), (-6, 300)]
)
def test_bus_to_metro_discount_within_ninety_minutes(minutes: float, paid: int) -> None:
    assert (
        engine("distance_bands", METRO)
        .fare(trip("futian", "luohu", previous=after_bus(minutes)))
        .amount.amount
        == paid
    )


def test_transfer_is_recorded_and_applies_after_the_concession() -> None:
    quote = engine("distance_bands", METRO).fare(
        trip("futian", "luohu", category="student", previous=after_bus(10))
    )
    assert (quote.amount.amount, quote.base.amount) == (110, 300)
    assert quote.discounts == (("bus_to_metro", 40),)
    assert quote.concession == "student: 50% off"


def test_no_transfer_from_another_operator() -> None:
    quote = engine("distance_bands", METRO).fare(
        trip("futian", "luohu", previous=after_bus(10, "guangzhou_bus"))
    )
    assert (quote.amount.amount, quote.discounts) == (300, ())


def test_a_transfer_never_takes_a_fare_below_zero() -> None:
    quote = engine("distance_bands", METRO).fare(
        trip("futian", "luohu", category="elderly", previous=after_bus(5))
    )
    assert (quote.amount.amount, quote.discounts) == (0, ())
    cheap = {**METRO, "base_fare": 30, "increment": 0}
    quote = engine("distance_bands", cheap).fare(trip("futian", "luohu", previous=after_bus(5)))
    assert (quote.amount.amount, quote.discounts) == (0, (("bus_to_metro", 30),))


def test_percent_transfer_discount() -> None:
    settings = {
        **METRO,
        "transfers": [
            {"name": "free_transfer", "from": ["shenzhen_bus"], "within_minutes": 45, "percent": 100}
        ],
    }
    quote = engine("distance_bands", settings).fare(trip("futian", "luohu", previous=after_bus(44)))
    assert (quote.amount.amount, quote.discounts) == (0, (("free_transfer", 300),))


def test_unknown_fare_model() -> None:
    with pytest.raises(ValueError, match="unknown fare model"):
        engine("zones", {"stops": ["a"]})


def test_a_concession_that_rests_on_height_or_a_card_is_not_granted_to_a_ride_code() -> None:
    pricing = Pricing.from_settings(
        {
            "concessions": {
                "child": {"kind": "percent_off", "percent": 50, "needs": "height"},
                "student": {"kind": "percent_off", "percent": 50},
            }
        },
        "CNY",
    )
    child, student = pricing.quote(600, "child", "r"), pricing.quote(600, "student", "r")
    assert (child.amount.amount, child.concession) == (600, None)
    assert (student.amount.amount, student.concession) == (300, "student: 50% off")
    assert pricing.quote(600, "child", "r", published=300).amount.amount == 600


async def test_children_pay_full_fare_where_height_decides(ride: Any) -> None:
    """Shenzhen Metro (1.2-1.5 m half), Macao LRT (under 1 m free), Guangzhou Metro: by height."""
    network = ride.services.transit.network
    for operator_id in ("shenzhen_metro", "macao_lrt", "guangzhou_metro"):
        operator = network.operators[operator_id]
        stops = [s.id for s in operator.info.stops]
        trip = Trip(stops[0], stops[-1], ride.clock.now(), category="child")
        adult = operator.fares.fare(Trip(stops[0], stops[-1], ride.clock.now()))
        assert operator.fares.fare(trip).amount == adult.amount, operator_id
    shenzhen_bus = network.operators["shenzhen_bus"]  # by age: still half fare
    stop = shenzhen_bus.info.stops[0].id
    assert shenzhen_bus.fares.fare(Trip(stop, None, ride.clock.now(), category="child")).amount.amount < (
        shenzhen_bus.fares.fare(Trip(stop, None, ride.clock.now())).amount.amount
    )
