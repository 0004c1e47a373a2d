"""Origin-destination tables (MTR shape): pairs, symmetry, published concession columns."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bayaffairs.transit.fares import InvalidFareSettings
from bayaffairs.transit.model import UnknownStop
from tests.transit.fares_support import engine, trip


def row(a: str, b: str, adult: int, child: int | None = None, elderly: int | None = None) -> dict[str, Any]:
    half = adult // 2 if child is None else child
    return {"from": a, "to": b, "adult": adult, "child": half, "student": half, "elderly": elderly or half}


MTR: dict[str, Any] = {
    "stops": ["central", "admiralty", "tsim_sha_tsui", "lo_wu"],
    "table": [
        row("central", "admiralty", 510),
        row("central", "tsim_sha_tsui", 1110),
        row("admiralty", "tsim_sha_tsui", 1060),
        row("admiralty", "lo_wu", 4860),
        row("lo_wu", "admiralty", 4900),  # both directions given: both kept
    ],
}


def mtr(**extra: Any) -> Any:
    return engine("od_matrix", {**MTR, **extra}, "HKD", "Asia/Hong_Kong")


def test_a_pair_given_one_way_costs_the_same_both_ways() -> None:
    fares = mtr()
    assert fares.fare(trip("central", "tsim_sha_tsui")).amount.amount == 1110
    assert fares.fare(trip("tsim_sha_tsui", "central")).amount.amount == 1110


def test_a_pair_given_both_ways_keeps_each_direction() -> None:
    fares = mtr()
    assert fares.fare(trip("admiralty", "lo_wu")).amount.amount == 4860
    assert fares.fare(trip("lo_wu", "admiralty")).amount.amount == 4900


def test_a_missing_pair_is_an_unknown_stop() -> None:
    with pytest.raises(UnknownStop, match="central"):
        mtr().fare(trip("central", "lo_wu"))


def test_a_same_station_exit_costs_the_cheapest_fare_from_there() -> None:
    quote = mtr().fare(trip("central", "central"))
    assert quote.amount.amount == 510


def test_published_category_columns_apply_without_a_concession() -> None:
    quote = mtr().fare(trip("central", "tsim_sha_tsui", category="child"))
    assert (quote.amount.amount, quote.base.amount, quote.concession) == (555, 1110, "child: published fare")


def test_a_configured_concession_replaces_the_column() -> None:
    # MTR elderly riders: the HK $2 scheme, from the adult fare.
    fares = mtr(concessions={"elderly": {"kind": "hk_two_dollar"}})
    assert fares.fare(trip("central", "admiralty", category="elderly")).amount.amount == 200
    assert fares.fare(trip("central", "tsim_sha_tsui", category="elderly")).amount.amount == 222
    assert fares.fare(trip("admiralty", "lo_wu", category="elderly")).amount.amount == 972


def test_max_fare_covers_journeys_starting_or_ending_at_the_stop() -> None:
    fares = mtr()
    assert fares.max_fare("admiralty", "adult").amount.amount == 4900
    assert fares.max_fare("central", "adult").amount.amount == 1110
    assert fares.max_fare("lo_wu", "child").amount.amount == 2450


@pytest.mark.parametrize(
    ("rows", "key", "problem"),
    [
        ([row("central", "kowloon", 500)], "fares.table.0", "unknown station 'kowloon'"),
        ([row("central", "admiralty", 500), row("central", "admiralty", 510)], "fares.table.1", "twice"),
        ([row("central", "admiralty", 500, child=600)], "fares.table.0", "above the adult fare"),
        ([row("central", "admiralty", 500)], "fares.table", "'tsim_sha_tsui' has no fares"),
    ],
)
def test_bad_tables_name_the_row(rows: list[dict[str, Any]], key: str, problem: str) -> None:
    with pytest.raises(InvalidFareSettings) as caught:
        mtr(table=rows)
    assert caught.value.key == key
    assert problem in caught.value.problem


STATIONS = [f"st{i}" for i in range(6)]
pairs = st.lists(
    st.tuples(st.sampled_from(STATIONS), st.sampled_from(STATIONS), st.integers(0, 10_000)),
    min_size=1,
    max_size=30,
    unique_by=lambda p: (p[0], p[1]),
)


@given(pairs)
def test_fares_are_symmetric_where_the_table_gives_one_direction(
    given_pairs: list[tuple[str, str, int]],
) -> None:
    table = [row(a, b, fare) for a, b, fare in given_pairs if a != b]
    stops = sorted({r["from"] for r in table} | {r["to"] for r in table})
    if not table:
        return
    fares = engine("od_matrix", {"stops": stops, "table": table})
    given_ways = {(r["from"], r["to"]) for r in table}
    for r in table:
        forth = fares.fare(trip(r["from"], r["to"]))
        assert forth.amount.amount == r["adult"] >= 0
        if (r["to"], r["from"]) not in given_ways:
            assert fares.fare(trip(r["to"], r["from"])).amount == forth.amount
