"""The counter day list's hand-loaded query (`_fast_day_query`) against CounterDayQuery.

Whatever the fast path loads, the schema loads the same; whatever it is unsure of, it leaves to
the schema (None), which answers with its messages."""

from __future__ import annotations

from typing import Any

import pytest
from marshmallow import ValidationError

from bayaffairs.handlers.counter import _fast_day_query
from bayaffairs.handlers.schemas.appointments import CounterDayQuery
from tests.support import START

DAY = START.date().isoformat()
COMPACT = DAY.replace("-", "")


def schema_load(raw: dict[str, str]) -> Any:
    try:
        return CounterDayQuery().load(raw)
    except ValidationError:
        return "invalid"


@pytest.mark.parametrize(
    ("raw", "fast"),
    [
        ({}, True),
        ({"date": DAY}, True),
        ({"since": "0"}, True),
        ({"date": DAY, "since": "42"}, True),
        ({"since": "007"}, True),
        ({"since": "9" * 18}, True),
        ({"since": str(2**62)}, False),  # the schema's bound: left to it
        ({"since": str(2**62 + 1)}, False),
        ({"since": "-1"}, False),
        ({"since": "1.0"}, False),
        ({"since": " 1"}, False),
        ({"since": ""}, False),
        ({"date": ""}, False),
        ({"date": COMPACT}, False),  # fromisoformat takes it, the schema does not
        ({"date": f"{START.year}-W10-4"}, False),
        ({"date": f"{START.year}-02-30"}, False),
        ({"date": f"{DAY}T00:00"}, False),
        ({"date": DAY, "limit": "5"}, False),
        ({"date": "9999-12-31"}, False),  # outside BoundedDate's years: the schema's 400
        ({"date": "1999-12-31"}, False),
    ],
)
def test_the_fast_query_loads_what_the_schema_loads_or_leaves_it(raw: dict[str, str], fast: bool) -> None:
    loaded = _fast_day_query(raw)
    assert (loaded is not None) is fast
    if loaded is not None:
        assert loaded == schema_load(raw)
