"""Per-gate credentials: a token bound to one gate id (and optionally its stations) scans and
uploads as that gate only, and its uploads cannot reach back before the gate's own history.
(Who gets 403 for what is in tests/security/test_denials.py; this is the rest.)"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from bayaffairs.errors import InvalidInput
from bayaffairs.gate.client import GateClient
from bayaffairs.gate.offline import OfflineGate
from bayaffairs.gate.store import GateStore
from tests.support import Api
from tests.transit.conftest import Ride

METRO = "shenzhen_metro"


async def bound(ride: Ride, gate_id: str, stations: list[str] | None = None) -> Api:
    issued = await ride.services.credentials.issue("gate", METRO, gate_id=gate_id, stations=stations)
    return ride.api.as_(issued.token)


def tap(
    ride: Ride, tap_id: str, payload: str, gate_id: str, ago: timedelta, station: str = ""
) -> dict[str, Any]:
    return {
        "tap_id": f"{gate_id}:{tap_id}",  # a bound gate's tap ids start with its id
        "payload": payload,
        "gate_id": gate_id,
        "station": station or ride.stops(METRO)[0],
        "direction": "in",
        "scanned_at": (ride.clock.now() - ago).isoformat(),
    }


async def test_issuing_checks_the_binding(ride: Ride) -> None:
    issue = ride.services.credentials.issue
    stops = ride.stops(METRO)
    issued = await issue("gate", METRO, gate_id="g-7", stations=stops[:2])
    assert (issued.credential.gate_id, issued.credential.stations) == ("g-7", tuple(sorted(stops[:2])))
    for kwargs in (
        {"gate_id": "g-7", "stations": ["central"]},  # an MTR station, not Shenzhen Metro's
        {"stations": stops[:1]},  # stations without a gate
        {"gate_id": "g 7"},  # not an id a gate can send
        {"gate_id": "g" * 41},  # too long to start tap ids of at most 64 characters
    ):
        with pytest.raises(InvalidInput):
            await issue("gate", METRO, **kwargs)
    with pytest.raises(InvalidInput):
        await issue("operator", METRO, gate_id="g-7")


async def test_a_batch_naming_another_gate_is_refused_whole(ride: Ride, pg: asyncpg.Connection) -> None:
    gate = await bound(ride, "g-7")
    payload = (await ride.code("shenzhen"))["payload"]
    taps = [tap(ride, "t1", payload, "g-7", timedelta()), tap(ride, "t2", payload, "g-8", timedelta())]
    status, body = await gate.post("/v1/gate/taps:batch", {"taps": taps})
    assert (status, body["error"]["code"]) == (403, "wrong_gate")
    assert await pg.fetchval("SELECT count(*) FROM tap_uploads") == 0


async def test_a_bound_gates_tap_ids_start_with_its_gate_id(ride: Ride, pg: asyncpg.Connection) -> None:
    """A stolen gate must not take the tap ids its neighbours will use: their taps would then be
    duplicates, never charged."""
    gate = await bound(ride, "g-7")
    payload = (await ride.code("shenzhen"))["payload"]
    for taken in ("g-8:ab12cd34-1", "ab12cd34-1"):
        status, body = await gate.post(
            "/v1/gate/taps:batch",
            {"taps": [{**tap(ride, "x", payload, "g-7", timedelta()), "tap_id": taken}]},
        )
        assert (status, body["error"]["code"]) == (403, "wrong_gate")
    assert await pg.fetchval("SELECT count(*) FROM tap_uploads") == 0


async def test_uploads_reach_back_no_further_than_the_window_before_the_gates_newest_tap(
    ride: Ride, pg: asyncpg.Connection
) -> None:
    window = timedelta(hours=ride.services.transit.settings.gate_backlog_hours)
    gate, other = await bound(ride, "g-7"), await bound(ride, "g-8")
    payload = (await ride.code("shenzhen"))["payload"]
    # A gate with no history may bring taps of the whole offline window (its first upload).
    status, body = await gate.post(
        "/v1/gate/taps:batch", {"taps": [tap(ride, "t1", payload, "g-7", timedelta(days=6))]}
    )
    assert (status, body["accepted"]) == (200, 1)
    status, body = await gate.post(
        "/v1/gate/taps:batch", {"taps": [tap(ride, "t2", payload, "g-7", timedelta())]}
    )
    assert (status, body["accepted"]) == (200, 1)
    older = [
        tap(ride, "t3", payload, "g-7", window + timedelta(minutes=1)),
        tap(ride, "t4", payload, "g-7", window - timedelta(minutes=1)),
    ]
    status, body = await gate.post("/v1/gate/taps:batch", {"taps": older})
    assert (status, body["accepted"], body["rejected"]) == (200, 1, [{"index": 0, "reason": "too_old"}])
    # The window follows each gate's own history: another gate of the operator is not held back.
    status, body = await other.post(
        "/v1/gate/taps:batch", {"taps": [tap(ride, "t5", payload, "g-8", window * 2)]}
    )
    assert (status, body["accepted"]) == (200, 1)
    assert await pg.fetchval("SELECT count(*) FROM tap_uploads") == 4


async def test_the_gate_library_works_with_a_bound_token(ride: Ride, tmp_path: Path) -> None:
    station = ride.stops(METRO)[1]
    token = (await bound(ride, "g-7", [station])).token
    assert token is not None
    client: TestClient = ride.api.client
    gate_client = GateClient(client.session, str(client.make_url("")), token)
    gate = OfflineGate(gate_id="g-7", station=station, store=GateStore(tmp_path / "g.sqlite3"))
    now = int(ride.clock.now().timestamp())
    await gate_client.sync(gate, now)
    assert gate.validate((await ride.code("shenzhen"))["payload"], "in", now).decision == "open"
    assert await gate_client.upload(gate) == {"accepted": 1, "duplicates": 0, "rejected": 0}


async def test_admins_bind_gate_tokens_over_http_too(ride: Ride) -> None:
    admin = ride.api.as_((await ride.services.credentials.issue("admin", "all")).token)
    stop = ride.stops(METRO)[0]
    status, bound_gate = await admin.post(
        "/v1/admin/credentials", {"kind": "gate", "scope": METRO, "gate_id": "g-7", "stations": [stop]}
    )
    assert status == 201
    assert (bound_gate["gate_id"], bound_gate["stations"], bound_gate["operator_wide"]) == (
        "g-7",
        [stop],
        False,
    )
    status, refused = await admin.post(
        "/v1/admin/credentials", {"kind": "gate", "scope": METRO, "gate_id": "g-8", "stations": ["central"]}
    )
    assert (status, list(refused["error"]["details"]["fields"])) == (400, ["stations"])
    await admin.post("/v1/admin/credentials", {"kind": "gate", "scope": METRO})
    _, listed = await admin.get("/v1/admin/credentials?kind=gate")
    assert sorted((c["gate_id"] or "", c["operator_wide"]) for c in listed["items"]) == [
        ("", True),
        ("g-7", False),
    ]
