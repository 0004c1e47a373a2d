"""The deny list gates download: deltas since a cursor, and snapshots for a gate that starts."""

from __future__ import annotations

import base64
from pathlib import Path

import aiohttp
import asyncpg
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bayaffairs.gate.client import GateClient
from bayaffairs.gate.offline import OfflineGate
from bayaffairs.gate.store import GateStore
from tests.transit.conftest import Ride

METRO = "shenzhen_metro"


async def test_a_snapshot_has_the_current_entries_and_a_cursor_for_deltas(ride: Ride) -> None:
    deny = ride.services.transit.deny_list
    await deny.change("account", "aa" * 8, "add", "unpaid")
    await deny.change("account", "bb" * 8, "add", "unpaid")
    await deny.change("account", "aa" * 8, "remove", "paid")
    await deny.change("key", "ride_codes-9", "add", "compromised")
    gate = await ride.gate(METRO)
    status, snap = await gate.get("/v1/gate/denylist?snapshot=true")
    assert status == 200 and snap["complete"]
    assert [(e["kind"], e["value"]) for e in snap["entries"]] == [
        ("account", "bb" * 8),
        ("key", "ride_codes-9"),
    ]
    await deny.change("account", "cc" * 8, "add", "unpaid")
    _, delta = await gate.get(f"/v1/gate/denylist?since={snap['next_cursor']}")
    assert [(c["kind"], c["value"], c["action"]) for c in delta["changes"]] == [("account", "cc" * 8, "add")]


async def test_a_snapshot_leaves_out_expired_credentials(ride: Ride, pg: asyncpg.Connection) -> None:
    issued = await ride.rider.post(
        "/v1/ride-credentials",
        {"device_public_key": device_key(), "algorithm": "ES256"},
    )
    assert issued[0] == 201, issued
    credential = issued[1]["credential_id"]
    assert (await ride.rider.delete(f"/v1/ride-credentials/{credential}"))[0] == 204
    gate = await ride.gate(METRO)
    _, snap = await gate.get("/v1/gate/denylist?snapshot=true")
    assert [(e["kind"], e["value"]) for e in snap["entries"]] == [("credential", credential)]
    ride.clock.advance(hours=ride.services.transit.settings.credential_hours, minutes=10)
    _, later = await gate.get("/v1/gate/denylist?snapshot=true")
    assert later["entries"] == []  # its codes are refused as expired anyway
    _, history = await gate.get("/v1/gate/denylist?since=0")
    assert [c["value"] for c in history["changes"]] == [credential]  # the log itself is unchanged


async def test_a_snapshot_comes_in_pages_at_one_cursor(ride: Ride) -> None:
    deny = ride.services.transit.deny_list
    values = [f"{n:016x}" for n in range(7)]
    for value in values:
        await deny.change("account", value, "add", "unpaid")
    gate = await ride.gate(METRO)
    _, page = await gate.get("/v1/gate/denylist?snapshot=true&limit=3")
    seen, cursor = [e["value"] for e in page["entries"]], page["next_cursor"]
    await deny.change("account", values[6], "remove", "paid")  # after the snapshot began
    while not page["complete"]:
        _, page = await gate.get(f"/v1/gate/denylist?snapshot=true&limit=3&page={page['next_page']}")
        assert page["next_cursor"] == cursor  # every page is the same instant of the list
        seen += [e["value"] for e in page["entries"]]
    assert seen == values
    _, delta = await gate.get(f"/v1/gate/denylist?since={cursor}")
    assert [(c["value"], c["action"]) for c in delta["changes"]] == [(values[6], "remove")]


async def test_a_new_gate_starts_from_a_snapshot(ride: Ride, tmp_path: Path) -> None:
    deny = ride.services.transit.deny_list
    for n in range(5):
        await deny.change("account", f"{n:016x}", "add", "unpaid")
        await deny.change("account", f"{n:016x}", "remove", "paid")
    await deny.change("account", "ee" * 8, "add", "unpaid")
    gate_api = await ride.gate(METRO)
    assert gate_api.token is not None
    asked: list[str] = []

    async def on_request(_session: object, _context: object, params: aiohttp.TraceRequestStartParams) -> None:
        asked.append(params.url.path_qs)

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_request)
    async with aiohttp.ClientSession(trace_configs=[trace]) as session:
        client = GateClient(session, str(ride.api.client.make_url("")), gate_api.token)
        gate = OfflineGate(gate_id="new-1", station=ride.stops(METRO)[0], store=GateStore(tmp_path / "g.db"))
        now = int(ride.clock.now().timestamp())
        await client.sync(gate, now)
        assert gate.denied == {("account", "ee" * 8)}
        cursor = gate.deny_cursor
        assert [q for q in asked if "denylist" in q] == [
            "/v1/gate/denylist?snapshot=true",
            f"/v1/gate/denylist?since={cursor}",  # what changed while the snapshot was read
        ]
        asked.clear()
        await deny.change("account", "ff" * 8, "add", "unpaid")
        await client.sync(gate, now)  # from then on, deltas
        assert gate.denied == {("account", "ee" * 8), ("account", "ff" * 8)}
        assert [q.split("?")[1] for q in asked if "denylist" in q] == [f"since={gate.deny_cursor - 1}"]


def device_key() -> str:
    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
    )
    return base64.b64encode(point).decode()
