"""Batch uploads: the per-tap fast check agrees with the schema, and batches fit the limits."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import pytest

from bayaffairs.gate.client import UPLOAD_CHUNK, next_chunk
from bayaffairs.handlers.gate import _fast_tap, _load_tap
from bayaffairs.transit.uploads import MAX_BATCH_BYTES, MAX_BATCH_TAPS
from tests.support import START
from tests.transit.conftest import Ride

GOOD = {
    "tap_id": f"g1-{START.timestamp():.0f}-1",
    "payload": "NCF" * 45,
    "gate_id": "g1",
    "station": "S1",
    "direction": "in",
    "scanned_at": START.astimezone(UTC).isoformat(),
}
BAD: list[tuple[dict[str, Any], str]] = [
    ({**GOOD, "tap_id": "t 4 bad id"}, "invalid_tap_id"),
    ({**GOOD, "tap_id": 7}, "invalid_tap_id"),
    ({**GOOD, "payload": "x" * 1001}, "invalid_payload"),
    ({**GOOD, "gate_id": ""}, "invalid_gate_id"),
    ({**GOOD, "station": None}, "invalid_station"),
    ({**GOOD, "direction": "up"}, "invalid_direction"),
    ({**GOOD, "scanned_at": START.replace(tzinfo=None).isoformat()}, "invalid_scanned_at"),
    ({**GOOD, "scanned_at": "yesterday"}, "invalid_scanned_at"),
    (
        {**GOOD, "scanned_at": "9999-12-31T23:00:00-05:00"},
        "invalid_scanned_at",
    ),  # past datetime's years in UTC
    ({**GOOD, "scanned_at": "0001-01-01T00:00:00+08:00"}, "invalid_scanned_at"),
    ({k: v for k, v in GOOD.items() if k != "station"}, "invalid_station"),
    ({**GOOD, "extra": 1}, "invalid_extra"),
]


def test_a_plainly_valid_tap_takes_the_fast_path_with_the_schemas_values() -> None:
    fast = _fast_tap(dict(GOOD))
    assert fast is not None
    assert fast == _load_tap({**GOOD, "tap_id": GOOD["tap_id"]})
    assert fast.scanned_at.utcoffset() is not None


@pytest.mark.parametrize(("tap", "reason"), BAD)
def test_a_bad_tap_gets_the_schemas_reason(tap: dict[str, Any], reason: str) -> None:
    assert _fast_tap(tap) is None
    assert _load_tap(tap) == reason


def test_the_gate_library_splits_uploads_by_count_and_bytes() -> None:
    small = [dict(GOOD, tap_id=f"t{i}") for i in range(UPLOAD_CHUNK + 5)]
    assert next_chunk(small)[0] == UPLOAD_CHUNK
    big = [dict(GOOD, tap_id=f"t{i}", payload="A" * 1000) for i in range(UPLOAD_CHUNK)]
    count, body = next_chunk(big)
    assert 0 < count < UPLOAD_CHUNK and len(body) <= MAX_BATCH_BYTES


async def test_a_batch_over_the_cap_is_a_clear_400(ride: Ride) -> None:
    gate = await ride.gate("shenzhen_metro")
    status, body = await gate.post("/v1/gate/taps:batch", {"taps": [GOOD] * (MAX_BATCH_TAPS + 1)})
    assert status == 400
    assert "taps" in str(body)
