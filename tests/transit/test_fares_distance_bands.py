"""Distance bands: Guangzhou's published numbers, shortest paths, caps and monotonicity."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bayaffairs.transit.fares import InvalidFareSettings
from bayaffairs.transit.fares.distance_bands import Bands
from bayaffairs.transit.model import UnknownStop
from tests.transit.fares_support import GUANGZHOU_BANDS, engine, line, trip

GUANGZHOU = Bands.from_settings(GUANGZHOU_BANDS)


@pytest.mark.parametrize(
    ("km", "yuan"),
    [
        (0, 2),
        (4, 2),
        (4.001, 3),
        (8, 3),
        (12, 4),
        (12.001, 5),
        (18, 5),
        (24, 6),
        (24.001, 7),
        (32, 7),
        (40, 8),
        (56.1, 11),
    ],
)
def test_guangzhou_published_bands(km: float, yuan: int) -> None:
    assert GUANGZHOU.price(round(km * 1000))[0] == yuan * 100


def test_fare_is_priced_over_the_shortest_path() -> None:
    # a-b-c is 10 km the long way round, 3 km by the direct segment a-c.
    fares = engine(
        "distance_bands",
        {
            "stops": ["a", "b", "c"],
            "segments": [["a", "b", 5], ["b", "c", 5], ["a", "c", 3]],
            **GUANGZHOU_BANDS,
        },
    )
    quote = fares.fare(trip("a", "c"))
    assert quote.amount.amount == 200
    assert quote.rule == "3.0 km, 1 band"


def test_segment_lengths_that_add_up_to_a_band_edge_stay_on_it() -> None:
    # 0.1 km steps summed as floats would come to 12.000000000000002 km and cost a band more.
    fares = engine("distance_bands", {**line([0.1] * 120), **GUANGZHOU_BANDS})
    assert fares.fare(trip("s0", "s120")).amount.amount == 400


def test_rule_text_names_distance_and_bands() -> None:
    fares = engine("distance_bands", {**line([6.2]), **GUANGZHOU_BANDS})
    assert fares.fare(trip("s0", "s1")).rule == "6.2 km, 2 bands"


def test_max_fare_caps_long_trips() -> None:
    # Dongguan Line 2: RMB 2-8 overall.
    fares = engine("distance_bands", {**line([37.8, 30]), **GUANGZHOU_BANDS, "max_fare": 800})
    quote = fares.fare(trip("s0", "s2"))
    assert quote.amount.amount == 800
    assert quote.rule.endswith("capped at the maximum fare")


def test_without_beyond_step_fares_stop_growing_after_the_last_step() -> None:
    bands = Bands.from_settings({**GUANGZHOU_BANDS, "beyond_every_km": None})
    assert bands.price(24_000)[0] == bands.price(90_000)[0] == 600


def test_max_fare_is_the_fare_to_the_farthest_stop() -> None:
    fares = engine("distance_bands", {**line([3, 10, 20]), **GUANGZHOU_BANDS})
    assert fares.max_fare("s1", "adult").amount.amount == fares.fare(trip("s1", "s3")).amount.amount == 700
    assert fares.max_fare("s1", "adult").rule.startswith("max fare at s1: ")


def test_unknown_stop_and_missing_exit() -> None:
    fares = engine("distance_bands", {**line([3]), **GUANGZHOU_BANDS})
    with pytest.raises(UnknownStop):
        fares.fare(trip("s0", "nowhere"))
    with pytest.raises(UnknownStop):
        fares.max_fare("nowhere", "adult")
    with pytest.raises(ValueError, match="exit stop"):
        fares.fare(trip("s0"))


def test_unknown_category_is_a_caller_error() -> None:
    fares = engine("distance_bands", {**line([3]), **GUANGZHOU_BANDS})
    with pytest.raises(ValueError, match="rider category"):
        fares.fare(trip("s0", "s1", category="vip"))


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"segments": [["s0", "zz", 3]]}, "segments.0"),
        ({"segments": [["s0", "s1", 3]], "stops": ["s0", "s1", "island"]}, "segments"),
        ({"steps": [[12, 4], [10, 6]]}, "fares.steps.1"),
        ({"max_fare": 100}, "fares.max_fare"),
    ],
)
def test_settings_it_cannot_price_with_name_the_key(change: dict[str, object], key: str) -> None:
    with pytest.raises(InvalidFareSettings) as caught:
        engine("distance_bands", {**line([3]), **GUANGZHOU_BANDS, **change})
    assert caught.value.key == key


@given(st.integers(0, 200_000), st.integers(0, 200_000))
def test_fares_never_fall_as_distance_grows(a: int, b: int) -> None:
    near, far = sorted((a, b))
    assert 0 <= GUANGZHOU.price(near)[0] <= GUANGZHOU.price(far)[0]


@given(
    st.lists(st.floats(0.1, 30, allow_nan=False).map(lambda km: round(km, 1)), min_size=1, max_size=8),
    st.integers(0, 500),
)
def test_farther_stops_on_a_line_never_cost_less(lengths: list[float], cap_extra: int) -> None:
    fares = engine("distance_bands", {**line(lengths), **GUANGZHOU_BANDS, "max_fare": 200 + cap_extra})
    amounts = [fares.fare(trip("s0", f"s{i}")).amount.amount for i in range(len(lengths) + 1)]
    assert amounts == sorted(amounts)
    assert amounts[0] == 200
