"""Station-count bands (Macao LRT): MOP 6/8/10/12, a sea crossing counting as two stations."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bayaffairs.transit.fares import InvalidFareSettings
from tests.transit.fares_support import engine, trip

TAIPA_LINE = [
    "barra",
    "ocean",
    "jockey_club",
    "stadium",
    "pai_kok",
    "cotai_west",
    "lotus",
    "east_asian_games",
    "cotai_east",
    "must",
    "airport",
    "taipa_ferry_terminal",
]
BANDS = {"bands": [[3, 600], [6, 800], [10, 1000]], "beyond_fare": 1200}
LRT: dict[str, Any] = {
    "stops": [*TAIPA_LINE, "union_hospital", "seac_pai_van"],
    "segments": [[a, b, 2 if (a, b) == ("barra", "ocean") else 1] for a, b in pairwise(TAIPA_LINE)]
    + [["cotai_west", "union_hospital", 1], ["union_hospital", "seac_pai_van", 1]],
    **BANDS,
}


def lrt(**extra: Any) -> Any:
    return engine("station_count", {**LRT, **extra}, "MOP", "Asia/Macau")


@pytest.mark.parametrize(
    ("entry", "exit_", "patacas", "rule"),
    [
        ("ocean", "ocean", 6, "0 stations, band up to 3"),
        ("ocean", "pai_kok", 6, "3 stations, band up to 3"),
        ("ocean", "cotai_west", 8, "4 stations, band up to 6"),
        ("barra", "jockey_club", 6, "3 stations, band up to 3"),  # the sea crossing counts 2
        ("barra", "stadium", 8, "4 stations, band up to 6"),
        ("ocean", "east_asian_games", 8, "6 stations, band up to 6"),
        ("ocean", "cotai_east", 10, "7 stations, band up to 10"),
        ("barra", "must", 10, "10 stations, band up to 10"),
        ("barra", "airport", 12, "11 stations, band above 10"),
        ("seac_pai_van", "taipa_ferry_terminal", 10, "8 stations, band up to 10"),
    ],
)
def test_macao_lrt_bands(entry: str, exit_: str, patacas: int, rule: str) -> None:
    quote = lrt().fare(trip(entry, exit_))
    assert (quote.amount.amount, quote.rule) == (patacas * 100, rule)


def test_without_beyond_fare_the_last_band_holds() -> None:
    fares = lrt(beyond_fare=None)
    assert fares.fare(trip("barra", "taipa_ferry_terminal")).amount.amount == 1000


def test_concessions_student_quarter_fare_elderly_free() -> None:
    fares = lrt(concessions={"student": {"kind": "percent_off", "percent": 75}, "elderly": {"kind": "free"}})
    assert fares.fare(trip("barra", "airport", category="student")).amount.amount == 300
    assert fares.fare(trip("barra", "airport", category="elderly")).amount.amount == 0
    assert fares.max_fare("barra", "student").amount.amount == 300


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"bands": [[3, 600], [3, 800]]}, "fares.bands"),
        ({"bands": [[3, 800], [6, 600]]}, "fares.bands"),
        ({"beyond_fare": 500}, "fares.bands"),
        ({"bands": []}, "fares.bands"),
        ({"segments": [["barra", "ocean", 1.5]]}, "segments.0"),
    ],
)
def test_bad_bands_name_the_key(change: dict[str, Any], key: str) -> None:
    with pytest.raises(InvalidFareSettings) as caught:
        lrt(**change)
    assert caught.value.key == key


@given(st.lists(st.integers(1, 3), min_size=1, max_size=15))
def test_fares_never_fall_as_stations_grow(weights: list[int]) -> None:
    stops = [f"s{i}" for i in range(len(weights) + 1)]
    segments = [[stops[i], stops[i + 1], w] for i, w in enumerate(weights)]
    fares = engine("station_count", {"stops": stops, "segments": segments, **BANDS}, "MOP", "Asia/Macau")
    amounts = [fares.fare(trip("s0", stop)).amount.amount for stop in stops]
    assert amounts == sorted(amounts)
    assert all(600 <= a <= 1200 for a in amounts)
