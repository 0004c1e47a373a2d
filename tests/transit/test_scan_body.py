"""Online scans skip marshmallow on the hot path: the hand check of the body agrees with ScanIn
and the hand-written answer with ScanOut, for any input."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from bayaffairs.handlers.endpoint import dump
from bayaffairs.handlers.gate import _fast_scan, _scan_answer
from bayaffairs.handlers.schemas.transit import ScanIn, ScanOut
from bayaffairs.money import Money
from bayaffairs.transit.scans import Decision
from tests.support import START

GOOD = {
    "payload": "NCF" * 45,
    "gate_id": "g1",
    "station": "S1",
    "direction": "in",
    "scanned_at": START.astimezone(UTC).isoformat(),
}
BAD: list[dict[str, Any]] = [
    {**GOOD, "gate_id": ""},
    {**GOOD, "gate_id": "g" * 65},
    {**GOOD, "gate_id": 7},
    {**GOOD, "station": None},
    {**GOOD, "direction": "up"},
    {**GOOD, "direction": ["in"]},
    {**GOOD, "scanned_at": START.replace(tzinfo=None).isoformat()},
    {**GOOD, "scanned_at": "yesterday"},
    {**GOOD, "scanned_at": 1795392000},
    {k: v for k, v in GOOD.items() if k != "station"},
    {**GOOD, "extra": 1},
]
SCHEMA = ScanIn()


def _schema_load(raw: Any) -> dict[str, Any] | None:
    try:
        return SCHEMA.load(raw)
    except ValidationError:
        return None


def test_a_plainly_valid_body_takes_the_fast_path_with_the_schemas_values() -> None:
    fast = _fast_scan(dict(GOOD))
    assert fast is not None
    assert fast == _schema_load(dict(GOOD))
    assert list(fast) == list(_schema_load(dict(GOOD)) or {})


@pytest.mark.parametrize(
    "raw", [{**GOOD, "payload": None}, {**GOOD, "payload": 12}, {**GOOD, "direction": "out"}]
)
def test_any_payload_and_either_direction_pass_as_the_schema_passes_them(raw: dict[str, Any]) -> None:
    assert _fast_scan(raw) == _schema_load(raw)


@pytest.mark.parametrize("raw", BAD)
def test_a_bad_body_is_left_to_the_schema_which_refuses_it(raw: dict[str, Any]) -> None:
    assert _fast_scan(raw) is None
    assert _schema_load(raw) is None


texts = st.one_of(
    st.text(max_size=70),
    st.sampled_from(
        ["in", "out", "", START.isoformat(), f"{START.astimezone(UTC):%Y-%m-%dT%H:%M:%S}Z", str(START.date())]
    ),
)
values = st.one_of(st.none(), st.integers(), st.booleans(), texts, st.lists(st.integers(), max_size=2))
bodies = st.fixed_dictionaries(
    {},
    optional={
        "payload": values,
        "gate_id": values,
        "station": values,
        "direction": values,
        "scanned_at": st.one_of(values, st.datetimes().map(lambda d: d.isoformat())),
        "extra": values,
    },
)


near_good = st.builds(lambda name, value: {**GOOD, name: value}, st.sampled_from([*GOOD, "extra"]), values)


@settings(max_examples=400, deadline=None)
@given(bodies)
def test_the_fast_path_never_accepts_what_the_schema_refuses_nor_changes_a_value(raw: dict[str, Any]) -> None:
    fast = _fast_scan(raw)
    if fast is not None:
        assert fast == _schema_load(raw)


@settings(max_examples=400, deadline=None)
@given(near_good)
def test_a_body_one_field_off_gets_the_same_outcome_both_ways(raw: dict[str, Any]) -> None:
    assert _fast_scan(raw) == _schema_load(raw)


@pytest.mark.parametrize(
    "decision",
    [
        Decision("open", None, "jny_1", Money(300, "CNY"), Money(330, "HKD")),
        Decision("open", None, "jny_2", Money(600, "MOP"), None),
        Decision("open", None, "jny_3", None, None),
        Decision.deny("replayed"),
    ],
)
def test_the_answer_is_byte_for_byte_what_scanout_dumps(decision: Decision) -> None:
    assert orjson.dumps(_scan_answer(decision)) == orjson.dumps(dump(ScanOut, decision))
