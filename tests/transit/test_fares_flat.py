"""Flat fares: one fare per boarding, or one per route (Macao buses MOP 6, city buses RMB 2)."""

from __future__ import annotations

import pytest

from bayaffairs.transit.fares import InvalidFareSettings
from bayaffairs.transit.model import UnknownStop
from tests.transit.fares_support import engine, trip

MACAO_BUS = {"stops": ["3", "25", "ap1"], "fare": 600}
SHENZHEN_BUS = {"stops": ["1", "330"], "fare": 200, "route_fares": {"330": 1000}}


def test_macao_bus_costs_mop_6_on_every_route() -> None:
    fares = engine("flat", MACAO_BUS, "MOP", "Asia/Macau")
    assert {fares.fare(trip(route)).amount.amount for route in MACAO_BUS["stops"]} == {600}
    assert fares.fare(trip("3")).rule == "flat fare"


def test_route_fares_override_the_default() -> None:
    fares = engine("flat", SHENZHEN_BUS)
    assert fares.fare(trip("1")).amount.amount == 200
    quote = fares.fare(trip("330"))
    assert (quote.amount.amount, quote.rule) == (1000, "route 330 fare")


def test_the_exit_stop_is_ignored() -> None:
    assert engine("flat", SHENZHEN_BUS).fare(trip("1", "somewhere")).amount.amount == 200


def test_max_fare_is_the_routes_fare_with_the_concession() -> None:
    fares = engine(
        "flat", {**SHENZHEN_BUS, "concessions": {"student": {"kind": "percent_off", "percent": 50}}}
    )
    assert fares.max_fare("330", "student").amount.amount == 500
    assert fares.max_fare("330", "adult").amount.amount == 1000


def test_unknown_route() -> None:
    fares = engine("flat", SHENZHEN_BUS)
    with pytest.raises(UnknownStop):
        fares.fare(trip("999"))
    with pytest.raises(UnknownStop):
        fares.max_fare("999", "adult")


def test_a_route_fare_for_an_unknown_route_names_the_key() -> None:
    with pytest.raises(InvalidFareSettings) as caught:
        engine("flat", {**SHENZHEN_BUS, "route_fares": {"331": 1000}})
    assert caught.value.key == "fares.route_fares"
