"""Through-fare rules (bayaffairs/transit/through.py) on the shipped config: Guangzhou Metro and
Foshan Metro priced as one network, Shenzhen Metro's Line 4 run by MTR Shenzhen."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bayaffairs.adapters import registry
from bayaffairs.adapters.base import AdapterContext
from bayaffairs.config import ConfigError, load_config
from bayaffairs.transit.network import Network
from bayaffairs.transit.through import split
from tests.transit.fares_support import trip

SHIPPED = Path(__file__).resolve().parents[2] / "config"


@pytest.fixture(scope="module")
def network() -> Network:
    config = load_config(SHIPPED, profile="test", environ={})
    adapters = registry.load(config.adapter_blocks, registry.discover(), AdapterContext(http=None))
    return Network(config, adapters)


def test_a_guangzhou_to_foshan_journey_is_one_distance_band_fare_over_both(network: Network) -> None:
    rule = network.through_fares("guangzhou_metro", "foshan_metro")
    assert rule is not None

    quote = rule.fare("guangzhou_metro", trip("gongyuanqian", "zumiao"))

    # 9.0 km of Guangzhou Metro to Xilang, then 13.8 km of Foshan Metro: 22.8 km is 4 bands,
    # RMB 6; priced apart the two parts would be RMB 4 + RMB 5.
    assert quote.amount.amount == 600 and quote.amount.currency == "CNY"
    assert "22.8 km" in quote.rule
    separately = (
        network.operators["guangzhou_metro"].fares.fare(trip("gongyuanqian", "xilang")).amount.amount
        + network.operators["foshan_metro"].fares.fare(trip("xilang", "zumiao")).amount.amount
    )
    assert separately == 900


def test_the_revenue_of_a_through_journey_is_split_by_kilometres_and_adds_up_to_the_fare(
    network: Network,
) -> None:
    rule = network.through_fares("guangzhou_metro", "foshan_metro")
    assert rule is not None

    weights = rule.share_weights("gongyuanqian", "zumiao")

    assert weights == {"guangzhou_metro": 9000, "foshan_metro": 13800}
    # 600 x 9.0/22.8 = 236.8 and 600 x 13.8/22.8 = 363.2: floors 236 + 363, the fen left over
    # goes to the larger share.
    assert split(600, weights) == {"guangzhou_metro": 236, "foshan_metro": 364}


def test_the_entry_operators_concessions_apply_to_the_through_fare(network: Network) -> None:
    rule = network.through_fares("foshan_metro", "guangzhou_metro")
    assert rule is not None

    student = rule.fare("foshan_metro", trip("zumiao", "gongyuanqian", category="student"))
    elderly = rule.fare("foshan_metro", trip("zumiao", "gongyuanqian", category="elderly"))

    assert (student.amount.amount, student.base.amount) == (300, 600)
    assert elderly.amount.amount == 0


def test_a_code_for_either_city_opens_both_networks_gates(network: Network) -> None:
    guangzhou = network.operators["guangzhou_metro"]
    foshan = network.operators["foshan_metro"]

    assert guangzhou.scope_codes == foshan.scope_codes == {guangzhou.scope_code, foshan.scope_code}
    assert guangzhou.partners == ("foshan_metro",) and foshan.partners == ("guangzhou_metro",)
    # a bus is in no rule: its gates take its own city's codes
    assert network.operators["guangzhou_bus"].scope_codes == {guangzhou.scope_code}
    assert network.through_fares("guangzhou_metro", "guangzhou_bus") is None


def test_line_4_is_its_own_operator_priced_by_shenzhen_metros_bands(network: Network) -> None:
    line4 = network.operators["mtr_shenzhen"]
    rule = network.through_fares("mtr_shenzhen", "mtr_shenzhen")
    assert rule is not None and line4.has_stop("shenzhen_north")
    assert not network.operators["shenzhen_metro"].has_stop("shenzhen_north")

    quote = rule.fare("mtr_shenzhen", trip("fumin", "shenzhen_north"))

    # 1.1 + 1.1 + 1.3 + 1.2 + 1.7 + 3.6 + 3.3 = 13.3 km: RMB 2 + 2 bands to 12 km + 1 = RMB 5
    assert quote.amount.amount == 500
    assert rule.share_weights("fumin", "shenzhen_north") == {"mtr_shenzhen": 13300}


def test_a_journey_across_line_4_and_line_1_is_split_between_the_two_operators(network: Network) -> None:
    rule = network.through_fares("mtr_shenzhen", "shenzhen_metro")
    assert rule is not None

    quote = rule.fare("mtr_shenzhen", trip("futian_checkpoint", "luohu"))
    weights = rule.share_weights("futian_checkpoint", "luohu")

    # Line 4 to the Convention & Exhibition Center (2.0 km), Line 1 on to Luohu (7.6 km)
    assert quote.amount.amount == 400
    assert weights == {"mtr_shenzhen": 2000, "shenzhen_metro": 7600}
    assert split(400, weights) == {"mtr_shenzhen": 83, "shenzhen_metro": 317}


def test_a_journey_on_shenzhen_metros_own_lines_is_all_its_own(network: Network) -> None:
    rule = network.through_fares("shenzhen_metro", "shenzhen_metro")
    assert rule is not None

    # Line 1 to the Grand Theater, Line 2 on by Civic Center: 3.2 + 10.6 km
    assert rule.share_weights("luohu", "window_of_the_world") == {"shenzhen_metro": 13800}
    assert rule.share_weights("luohu", "luohu") == {}


@given(
    fare=st.integers(0, 10**7),
    weights=st.dictionaries(
        st.sampled_from(["a_metro", "b_metro", "c_line", "d_line"]), st.integers(1, 10**6), min_size=1
    ),
)
def test_shares_always_add_up_to_the_fare_and_each_is_within_a_unit_of_its_exact_part(
    fare: int, weights: dict[str, int]
) -> None:
    shares = split(fare, weights)

    total = sum(weights.values())
    assert sum(shares.values()) == fare
    assert set(shares) == set(weights)
    for operator, share in shares.items():
        exact = fare * weights[operator] / total
        assert exact - 1 < share < exact + 1


@given(weights=st.dictionaries(st.sampled_from(["a", "b", "c"]), st.integers(1, 1000), min_size=2))
def test_a_larger_weight_never_gets_a_smaller_share(weights: dict[str, int]) -> None:
    shares = split(997, weights)

    for a in weights:
        for b in weights:
            if weights[a] > weights[b]:
                assert shares[a] >= shares[b]


def test_a_rule_naming_an_operator_that_is_not_enabled_stops_the_start(tmp_path: Path) -> None:
    import shutil

    config_dir = Path(shutil.copytree(SHIPPED, tmp_path / "config"))
    foshan = config_dir / "cities" / "foshan.toml"
    text = foshan.read_text(encoding="utf-8")
    foshan.write_text(
        text.replace('["guangzhou_metro", "foshan_metro"]', '["guangzhou_metro", "fosham"]'),
        encoding="utf-8",
    )
    config = load_config(config_dir, profile="test", environ={})
    adapters = registry.load(config.adapter_blocks, registry.discover(), AdapterContext(http=None))

    with pytest.raises(ConfigError) as caught:
        Network(config, adapters)

    assert caught.value.key == "through_fares.guangzhou_foshan_metro.operators"
    assert "'fosham' is not an enabled transit operator" in caught.value.problem


def test_every_journey_of_every_shipped_rule_splits_into_shares_that_add_up_to_its_fare(
    network: Network,
) -> None:
    assert set(network.through) == {"guangzhou_foshan_metro", "shenzhen_metro_network"}
    for rule in network.through.values():
        for (entry, exit_), path in rule.paths.items():
            weights = rule.share_weights(entry, exit_)
            assert sum(weights.values()) == path.metres  # every metre belongs to one operator
            for operator in rule.operators:
                for category in ("adult", "student"):
                    fare = rule.fare(operator, trip(entry, exit_, category=category)).amount.amount
                    if weights:
                        assert sum(split(fare, weights).values()) == fare


def test_apps_built_from_one_config_share_its_rules_and_a_changed_rule_is_built_anew(
    network: Network, tmp_path: Path
) -> None:
    """Building a rule prices every pair of the joined network: a process that starts several
    apps (the tests) builds it once for the same settings and engines (ThroughFares.shared)."""
    import shutil

    config = load_config(SHIPPED, profile="test", environ={})
    adapters = registry.load(config.adapter_blocks, registry.discover(), AdapterContext(http=None))
    again = Network(config, adapters)
    for rule_id, rule in network.through.items():
        assert again.through[rule_id] is rule
    # Control: other shares for the same operators and engines are another rule.
    config_dir = Path(shutil.copytree(SHIPPED, tmp_path / "config"))
    foshan = config_dir / "cities" / "foshan.toml"
    text = foshan.read_text(encoding="utf-8")
    assert text.count('shares = "distance"') == 1
    foshan.write_text(
        text.replace(
            'shares = "distance"', 'shares = "fixed"\nweights = {guangzhou_metro = 1, foshan_metro = 3}'
        ),
        encoding="utf-8",
    )
    changed = load_config(config_dir, profile="test", environ={})
    other = Network(
        changed, registry.load(changed.adapter_blocks, registry.discover(), AdapterContext(http=None))
    )
    assert other.through["shenzhen_metro_network"] is network.through["shenzhen_metro_network"]
    fixed = other.through["guangzhou_foshan_metro"]
    assert fixed is not network.through["guangzhou_foshan_metro"]
    assert fixed.share_weights("gongyuanqian", "zumiao") == {"guangzhou_metro": 1, "foshan_metro": 3}
    assert network.through["guangzhou_foshan_metro"].share_weights("gongyuanqian", "zumiao") == {
        "guangzhou_metro": 9000,
        "foshan_metro": 13800,
    }
