"""The transit operators config enables, loaded through the real registry, and the checks a bad
operator block meets at load."""

from __future__ import annotations

import csv
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from bayaffairs.adapters import registry
from bayaffairs.adapters.base import AdapterContext
from bayaffairs.adapters.protocols import RIDER_CATEGORIES, TransitOperator
from bayaffairs.config import load_config
from bayaffairs.config.errors import ConfigError
from bayaffairs.i18n import Text
from bayaffairs.integrations.transit_operator.settings import CONCESSION_PARAMS
from bayaffairs.transit.fares import ENGINES, PRICED_BY_EXIT
from bayaffairs.transit.fares.concessions import CONCESSION_KINDS
from bayaffairs.transit.model import FARE_MODELS, FareEngine, OperatorInfo, OperatorRules, Trip
from tests.integrations.support import build_adapter
from tests.support import START

CONFIG = load_config(environ={})
ADAPTERS = registry.load(CONFIG.adapter_blocks, registry.discover(), AdapterContext(http=None))
OPERATORS = {a.id: a for a in ADAPTERS.of_kind(TransitOperator)}
AT = START.replace(hour=12)  # a weekday noon in the Bay Area
MTR_CSV = Path(__file__).resolve().parents[3] / "config" / "tariffs" / "mtr_od_fares.csv"


def test_twenty_or_more_operators_across_all_eleven_cities() -> None:
    assert len(OPERATORS) >= 20
    assert {a.city for a in OPERATORS.values()} == set(CONFIG.cities)


def test_the_named_operators_are_there() -> None:
    assert {
        "mtr", "kmb", "citybus", "hzmb_shuttle", "tcm_bus", "transmac_bus", "macao_lrt",
        "guangzhou_metro", "guangzhou_bus", "shenzhen_metro", "shenzhen_bus", "foshan_metro", "foshan_bus",
        "dongguan_rail", "dongguan_bus", "zhuhai_bus", "huizhou_bus", "zhongshan_bus", "jiangmen_bus",
        "zhaoqing_bus",
    } <= set(OPERATORS)  # fmt: skip


def test_every_fare_model_is_used_and_has_an_engine() -> None:
    assert set(ENGINES) == set(FARE_MODELS)
    assert {a.describe()["fare_model"] for a in OPERATORS.values()} == set(FARE_MODELS)


def test_the_settings_schema_knows_every_concession_kind() -> None:
    assert set(CONCESSION_PARAMS) == set(CONCESSION_KINDS)


@pytest.mark.parametrize("operator_id", sorted(OPERATORS))
def test_describe_has_the_directory_shape_in_three_languages(operator_id: str) -> None:
    adapter = OPERATORS[operator_id]
    assert isinstance(adapter, TransitOperator)
    described = adapter.describe()
    assert set(described) == {"id", "name", "modes", "currency", "fare_model", "stations", "demo_tariff"}
    assert described["id"] == operator_id
    assert described["demo_tariff"] is True
    assert described["stations"]
    for text in [described["name"], *(s["name"] for s in described["stations"])]:
        assert isinstance(text, Text) and text.en and text.zh_hant and text.zh_hans


@pytest.mark.parametrize("operator_id", sorted(OPERATORS))
def test_currency_and_time_zone_are_the_jurisdictions(operator_id: str) -> None:
    adapter = OPERATORS[operator_id]
    jurisdiction = CONFIG.jurisdictions[adapter.jurisdiction]
    info = adapter.info()
    assert isinstance(info, OperatorInfo)
    assert (info.currency, info.time_zone) == (jurisdiction.currency, jurisdiction.time_zone)


@pytest.mark.parametrize("operator_id", sorted(OPERATORS))
def test_every_stop_is_priced_against_another_for_every_category(operator_id: str) -> None:
    adapter = OPERATORS[operator_id]
    fares: FareEngine = adapter.fares()
    stops = [s.id for s in adapter.info().stops]
    others = stops[1:] + stops[:1]
    for category in RIDER_CATEGORIES:
        for stop, other in zip(stops, others, strict=True):
            quote = fares.fare(Trip(stop, other, AT, category))
            assert quote.amount.currency == adapter.info().currency
            assert 0 <= quote.amount.amount <= quote.base.amount
            assert quote.amount.amount <= fares.max_fare(stop, category).amount.amount


@pytest.mark.parametrize("operator_id", sorted(OPERATORS))
def test_rail_taps_out_and_buses_tap_in_only(operator_id: str) -> None:
    adapter = OPERATORS[operator_id]
    rules = adapter.rules()
    assert isinstance(rules, OperatorRules)
    assert rules.tap_out == (adapter.info().fare_model in PRICED_BY_EXIT)
    if rules.tap_out:
        assert rules.tap_out_without_tap_in == "max_fare"


def test_journey_limits_by_network() -> None:
    minutes = {
        op: OPERATORS[op].rules().max_journey_minutes for op in ("mtr", "shenzhen_metro", "guangzhou_metro")
    }
    assert minutes == {"mtr": 150, "shenzhen_metro": 180, "guangzhou_metro": 240}


def fare(
    operator_id: str, entry: str, exit_: str | None = None, category: str = "adult", at: datetime = AT
) -> int:
    return OPERATORS[operator_id].fares().fare(Trip(entry, exit_, at, category)).amount.amount


def test_shipped_fares_follow_the_published_shapes() -> None:
    assert fare("tcm_bus", "33") == fare("transmac_bus", "ap1") == 600
    assert fare("guangzhou_bus", "10") == 200
    assert fare("guangzhou_metro", "gongyuanqian", "ximenkou") == 200
    assert fare("macao_lrt", "barra", "taipa_ferry_terminal") == 1200
    assert fare("hzmb_shuttle", "hk_port_macao_port", at=START.replace(hour=4)) == 7000
    assert fare("dongguan_rail", "dongguan_railway_station", "humen_railway_station") == 800
    assert fare("mtr", "central", "admiralty") == 510
    assert fare("mtr", "lo_wu", "admiralty", "elderly") == 972  # HK $2 scheme: 20% of HK$48.60


def test_mtr_fares_are_symmetric_and_concessions_within_the_adult_fare() -> None:
    fares = OPERATORS["mtr"].fares()
    stations = [s.id for s in OPERATORS["mtr"].info().stops]
    for a, b in pairwise(stations):
        assert fares.fare(Trip(a, b, AT)).amount == fares.fare(Trip(b, a, AT)).amount
    with MTR_CSV.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(line for line in handle if not line.startswith("#")))
    assert len(rows) == len(stations) * (len(stations) - 1) // 2
    assert all(int(r["child"]) <= int(r["adult"]) and int(r["elderly"]) <= int(r["adult"]) for r in rows)


def test_metro_max_fare_is_the_longest_trip() -> None:
    quote = OPERATORS["shenzhen_metro"].fares().max_fare("luohu", "adult")
    assert quote.amount.amount == max(
        fare("shenzhen_metro", "luohu", s.id) for s in OPERATORS["shenzhen_metro"].info().stops
    )


def test_the_directory_lists_operators_under_their_city() -> None:
    from bayaffairs.directory import Directory

    regions = {j["id"]: j for j in Directory(CONFIG, ADAPTERS).regions("zh-Hant")}
    macao = regions["macao"]["cities"][0]
    lrt = next(o for o in macao["operators"] if o["id"] == "macao_lrt")
    assert lrt["name"] == "澳門輕軌"
    assert {"id": "barra", "name": "媽閣"} in lrt["stations"]


# A bad block fails at load with the key that is wrong.

STOPS = [{"id": "a", "name": {"en": "A"}}, {"id": "b", "name": {"en": "B"}}]
METRO: dict[str, Any] = {
    "name": {"en": "Demo Metro", "zh-Hant": "示範地鐵", "zh-Hans": "示范地铁"},
    "modes": ["metro"],
    "currency": "CNY",
    "time_zone": "Asia/Shanghai",
    "fare_model": "distance_bands",
    "stops": STOPS,
    "segments": [["a", "b", 5]],
    "rules": {"tap_out": True},
    "fares": {"base_fare": 200, "base_km": 4, "steps": [[12, 4]], "increment": 100},
}


def load(**change: Any) -> Any:
    """METRO with `change` applied; a key changed to None is left out."""
    settings = {k: v for k, v in {**METRO, **change}.items() if v is not None}
    return build_adapter("transit_operator", settings, instance="demo_metro")


def test_a_minimal_block_loads_with_defaults() -> None:
    adapter = load()
    assert adapter.rules() == OperatorRules(tap_out=True)
    assert adapter.fares().fare(Trip("a", "b", AT)).amount.amount == 300
    assert adapter.name.en == "Demo Metro"


def write_csv(tmp_path: Path, body: str) -> str:
    path = tmp_path / "fares.csv"
    path.write_text("# demo\nfrom,to,adult,child,student,elderly\n" + body, encoding="utf-8")
    return str(path)


def test_an_od_table_from_a_csv_file(tmp_path: Path) -> None:
    adapter = load(
        fare_model="od_matrix", segments=None, fares={"csv": write_csv(tmp_path, "a,b,900,450,450,450\n")}
    )
    assert adapter.fares().fare(Trip("b", "a", AT, "child")).amount.amount == 450


@pytest.mark.parametrize(
    ("change", "key", "problem"),
    [
        ({"segments": [["a", "c", 5]]}, "segments.0", "unknown stop 'c'"),
        ({"stops": [*STOPS, {"id": "c", "name": "C"}]}, "segments", "'c' is not connected"),
        ({"stops": [*STOPS, STOPS[0]]}, "stops.2.id", "listed twice"),
        ({"segments": [["a", "b", -5]]}, "segments.0.2", ""),
        ({"rules": {"tap_out": False}}, "rules.tap_out", "riders must tap out"),
        ({"fare_model": "flat", "fares": {"fare": 200}}, "segments", "only distance_bands"),
        ({"fares": {"base_fare": 200}}, "fares.base_km", "required"),
        ({"fares": {**METRO["fares"], "colour": 1}}, "fares.colour", "Unknown field"),
        ({"fares": {**METRO["fares"], "steps": [[3, 4]]}}, "fares.steps.0", "up_to_km must grow"),
        ({"time_zone": "Asia/Hongkong_"}, "time_zone", "IANA"),
        ({"currency": "USD"}, "currency", ""),
        ({"modes": ["hovercraft"]}, "modes.0", ""),
        ({"concessions": {"infant": {"kind": "free"}}}, "concessions.infant", "Unknown field"),
        ({"concessions": {"child": {"kind": "percent_off"}}}, "concessions.child.percent", "needs percent"),
        ({"concessions": {"child": {"kind": "free", "amount": 1}}}, "concessions.child.amount", "takes no"),
        (
            {"transfers": [{"name": "bus_to_metro", "from": ["bus"], "within_minutes": 9}]},
            "transfers.0.amount",
            "either",
        ),
        ({"name": {"zh-Hans": "地铁"}}, "name", "English"),
    ],
)
def test_bad_blocks_name_the_key(change: dict[str, Any], key: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(**change)
    assert caught.value.key == f"adapters.demo_metro.{key}", caught.value
    assert problem in caught.value.problem


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("a,b,900,450,450\n", "line 3: expected 6 values"),
        ("a,b,900,half,450,450\n", "line 3: child must be a whole number"),
        ("a,c,900,450,450,450\n", "line 3: unknown station 'c'"),
        ("a,b,900,950,450,450\n", "line 3: a concession fare is above the adult fare"),
    ],
)
def test_bad_csv_rows_name_the_line(tmp_path: Path, body: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(fare_model="od_matrix", segments=None, fares={"csv": write_csv(tmp_path, body)})
    assert caught.value.key == "adapters.demo_metro.fares.csv"
    assert problem in caught.value.problem


def test_a_missing_csv_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load(fare_model="od_matrix", segments=None, fares={"csv": str(tmp_path / "none.csv")})
