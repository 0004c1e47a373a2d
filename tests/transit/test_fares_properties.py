"""Properties every engine keeps, whatever the tariff, concession or transfer: a rider never
pays less than nothing nor more than the full fare."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bayaffairs.adapters.protocols import RIDER_CATEGORIES
from bayaffairs.transit.fares.concessions import CONCESSION_KINDS
from bayaffairs.transit.model import PreviousLeg
from tests.transit.fares_support import NOON, engine, trip

STOPS = ["a", "b", "c", "d"]
SEGMENTS = [["a", "b", 3], ["b", "c", 9], ["c", "d", 20]]
RING = [("a", "b"), ("b", "c"), ("c", "d"), ("d", "a")]  # the OD table has no a-c nor b-d
fares_ = st.integers(0, 20_000)

concessions = st.dictionaries(
    st.sampled_from(RIDER_CATEGORIES),
    st.builds(
        lambda kind, percent, amount: {"kind": kind, "percent": percent, "amount": amount},
        st.sampled_from(CONCESSION_KINDS),
        st.integers(1, 100),
        st.integers(0, 5_000),
    ),
)
transfers = st.lists(
    st.builds(
        lambda amount, minutes: {"name": "t", "from": ["bus"], "within_minutes": minutes, "amount": amount},
        st.integers(0, 30_000),
        st.integers(1, 120),
    ),
    max_size=2,
)
tariffs = st.one_of(
    st.builds(lambda fare: ("flat", {"fare": fare}), fares_),
    st.builds(
        lambda base, inc, cap: (
            "distance_bands",
            {"segments": SEGMENTS, "base_fare": base, "base_km": 4, "steps": [[12, 4]], "increment": inc}
            | ({"max_fare": base + cap} if cap is not None else {}),
        ),
        fares_,
        st.integers(0, 500),
        st.none() | st.integers(0, 2_000),
    ),
    st.builds(
        lambda a, b: ("station_count", {"segments": SEGMENTS, "bands": [[1, a], [2, a + b]]}),
        fares_,
        fares_,
    ),
    st.builds(
        lambda day, night: ("time_of_day", {"periods": [["00:00", night], ["06:00", day]]}), fares_, fares_
    ),
    st.builds(
        lambda adult: (
            "od_matrix",
            {
                "table": [
                    {"from": a, "to": b, "adult": adult, "child": adult // 2, "student": adult, "elderly": 0}
                    for a, b in RING
                ]
            },
        ),
        fares_,
    ),
)


@settings(max_examples=200)
@given(
    tariffs,
    concessions,
    transfers,
    st.sampled_from(RIDER_CATEGORIES),
    st.sampled_from(STOPS),
    st.sampled_from(STOPS),
    st.integers(0, 200),
)
def test_a_fare_is_never_negative_nor_above_the_full_fare(
    tariff: tuple[str, dict[str, Any]],
    concession: dict[str, Any],
    transfer: list[dict[str, Any]],
    category: str,
    entry: str,
    exit_: str,
    minutes_since_bus: int,
) -> None:
    model, tariff_settings = tariff
    fares = engine(
        model, {"stops": STOPS, **tariff_settings, "concessions": concession, "transfers": transfer}
    )
    previous = PreviousLeg("bus", NOON - timedelta(minutes=minutes_since_bus))
    if model == "od_matrix" and {entry, exit_} in ({"a", "c"}, {"b", "d"}):
        return
    quote = fares.fare(trip(entry, exit_, category=category, previous=previous))
    assert 0 <= quote.amount.amount <= quote.base.amount
    assert sum(off for _, off in quote.discounts) <= quote.base.amount
    maximum = fares.max_fare(entry, category)
    assert 0 <= maximum.amount.amount <= maximum.base.amount
