"""Offline gates (the gate library) and device credentials: codes a phone signs itself."""

from __future__ import annotations

import base64
from datetime import datetime
from pathlib import Path

import asyncpg
import pytest
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bayaffairs.gate.client import GateClient
from bayaffairs.gate.offline import OfflineGate
from bayaffairs.gate.store import GateStore
from bayaffairs.transit.codes import base45
from bayaffairs.transit.codes import format as fmt
from bayaffairs.transit.codes.signatures import sign
from tests.transit.conftest import Ride

pytestmark = pytest.mark.at_two_instants

METRO = "shenzhen_metro"


async def offline_gate(
    ride: Ride, station: str, store: Path, gate_id: str = "offline-1"
) -> tuple[OfflineGate, GateClient]:
    """A gate whose station group keeps its memory in `store`, synced at the test's time."""
    gate_api = await ride.gate(METRO)
    client: TestClient = ride.api.client
    assert gate_api.token is not None
    gate_client = GateClient(client.session, str(client.make_url("")), gate_api.token)
    gate = OfflineGate(gate_id=gate_id, station=station, store=GateStore(store))
    await gate_client.sync(gate, now(ride))
    return gate, gate_client


def now(ride: Ride) -> int:
    return int(ride.clock.now().timestamp())


async def test_an_offline_gate_opens_once_and_refuses_a_replay(ride: Ride, tmp_path: Path) -> None:
    station = ride.stops(METRO)[0]
    gate, _ = await offline_gate(ride, station, tmp_path / "gate.sqlite3")
    payload = (await ride.code("shenzhen"))["payload"]
    assert gate.validate(payload, "in", now(ride)).decision == "open"
    again = gate.validate(payload, "in", now(ride))
    assert (again.decision, again.reason) == ("deny", "replayed")
    second_code = (await ride.code("shenzhen"))["payload"]
    double = gate.validate(second_code, "in", now(ride))
    assert (double.decision, double.reason) == ("deny", "unfinished_journey")


async def test_an_offline_gate_applies_the_deny_list_it_synced(
    ride: Ride, pg: asyncpg.Connection, tmp_path: Path
) -> None:
    payload = (await ride.code("shenzhen"))["payload"]
    account = (await pg.fetchval("SELECT account_token FROM ride_accounts")).hex()
    await ride.services.transit.deny_list.change("account", account, "add", "test")
    gate, client = await offline_gate(ride, ride.stops(METRO)[0], tmp_path / "gate.sqlite3")
    decision = gate.validate(payload, "in", now(ride))
    assert (decision.decision, decision.reason) == ("deny", "denied_account")
    await ride.services.transit.deny_list.change("account", account, "remove", "paid")
    await client.sync(gate, now(ride))
    assert gate.validate(payload, "in", now(ride)).decision == "open"


async def test_uploaded_offline_taps_become_a_journey_and_reuploads_are_duplicates(
    ride: Ride, tmp_path: Path
) -> None:
    stops = ride.stops(METRO)
    gate_in, client = await offline_gate(ride, stops[0], tmp_path / "entry.sqlite3")
    gate_out, _ = await offline_gate(ride, stops[-1], tmp_path / "exit.sqlite3", "offline-2")
    assert gate_in.validate((await ride.code("shenzhen"))["payload"], "in", now(ride)).decision == "open"
    ride.clock.advance(minutes=20)
    assert gate_out.validate((await ride.code("shenzhen"))["payload"], "out", now(ride)).decision == "open"
    queued = [tap for _, tap in gate_in.store.pending(None, 10) + gate_out.store.pending(None, 10)]
    assert await client.upload(gate_in) == {"accepted": 1, "duplicates": 0, "rejected": 0}
    assert await client.upload(gate_out) == {"accepted": 1, "duplicates": 0, "rejected": 0}
    status, again = await ride.api.as_(client.headers["Authorization"].split()[1]).post(
        "/v1/gate/taps:batch", {"taps": queued}
    )
    assert (status, again["accepted"], again["duplicates"]) == (200, 0, 2)
    assert await ride.services.transit.uploads.drain(settle_seconds=0) == 2
    journey = (await ride.rider.get("/v1/journeys"))[1]["items"][0]
    assert (journey["status"], journey["entry_station"], journey["exit_station"]) == (
        "completed",
        stops[0],
        stops[-1],
    )
    assert journey["fare"]["amount"] > 0


async def test_a_batch_keeps_the_good_taps_and_lists_the_bad_by_index(
    ride: Ride, pg: asyncpg.Connection
) -> None:
    gate = await ride.gate(METRO)
    payload = (await ride.code("shenzhen"))["payload"]
    stamp = ride.clock.now().isoformat()
    good = {
        "tap_id": "t-1",
        "payload": payload,
        "gate_id": "g",
        "station": ride.stops(METRO)[0],
        "direction": "in",
        "scanned_at": stamp,
    }
    taps = [
        good,
        {**good, "tap_id": "t-2", "payload": "NOT A CODE"},
        {**good, "tap_id": "t-3", "station": "nowhere"},
        {**good, "tap_id": "t 4 bad id"},
        "not even an object",
        good,
    ]
    status, result = await gate.post("/v1/gate/taps:batch", {"taps": taps})
    assert status == 200
    assert (result["accepted"], result["duplicates"]) == (1, 1)
    assert [(r["index"], r["reason"]) for r in result["rejected"]] == [
        (1, "malformed"),
        (2, "unknown_station"),
        (3, "invalid_tap_id"),
        (4, "invalid_tap"),
    ]
    assert await pg.fetchval("SELECT count(*) FROM tap_uploads") == 1


async def test_a_forged_offline_tap_is_kept_as_refused(ride: Ride, pg: asyncpg.Connection) -> None:
    gate = await ride.gate(METRO)
    data = bytearray(base45.decode((await ride.code("shenzhen"))["payload"]))
    data[30] ^= 1
    tap = {
        "tap_id": "forged-1",
        "payload": base45.encode(bytes(data)),
        "gate_id": "g",
        "station": ride.stops(METRO)[0],
        "direction": "in",
        "scanned_at": ride.clock.now().isoformat(),
    }
    assert (await gate.post("/v1/gate/taps:batch", {"taps": [tap]}))[1]["accepted"] == 1
    await ride.services.transit.uploads.drain(settle_seconds=0)
    row = await pg.fetchrow("SELECT state, reason FROM tap_uploads WHERE tap_id = 'forged-1'")
    assert (row["state"], row["reason"]) == ("refused", "bad_signature")
    assert await pg.fetchval("SELECT count(*) FROM journeys") == 0


@pytest.mark.parametrize("first", ["online", "uploaded"])
@pytest.mark.parametrize("again_at", ["the same stop", "another stop"])
async def test_an_uploaded_bus_tap_of_a_code_used_before_is_refused_as_replayed(
    ride: Ride, pg: asyncpg.Connection, first: str, again_at: str
) -> None:
    """A tap-in priced in advance (a bus), of a code already recorded: online, or uploaded by
    another gate and decided in an earlier batch. Nothing is written for it. At the same stop
    within seconds the replay is also a double tap of the journey the code paid for; at another
    stop it is not, and only the code's tap, already taken, refuses it."""
    bus = await ride.gate("shenzhen_bus")
    stop, other = ride.stops("shenzhen_bus")[:2]
    payload = (await ride.code("shenzhen"))["payload"]
    tap = {"payload": payload, "station": stop, "direction": "in", "scanned_at": ride.clock.now().isoformat()}
    if first == "online":
        assert (await ride.scan(bus, payload, stop))["decision"] == "open"
    else:
        status, _ = await bus.post("/v1/gate/taps:batch", {"taps": [tap | {"tap_id": "a-1", "gate_id": "a"}]})
        assert status == 200
        await ride.services.transit.uploads.drain(settle_seconds=0)
    ride.clock.advance(seconds=5)
    again = tap | {"tap_id": "b-1", "gate_id": "b", "scanned_at": ride.clock.now().isoformat()}
    if again_at == "another stop":
        again["station"] = other
    status, _ = await bus.post("/v1/gate/taps:batch", {"taps": [again]})
    assert status == 200
    await ride.services.transit.uploads.drain(settle_seconds=0)
    row = await pg.fetchrow("SELECT state, reason, journey_id FROM tap_uploads WHERE tap_id = 'b-1'")
    assert (row["state"], row["reason"], row["journey_id"]) == ("refused", "replayed", None)
    assert await pg.fetchval("SELECT count(*) FROM journeys") == 1
    assert await pg.fetchval("SELECT count(*) FROM taps") == 1


async def device_code(credential: bytes, device: ec.EllipticCurvePrivateKey, at: int, counter: int) -> str:
    signed = credential + fmt.dynamic_part(at, counter)
    return base45.encode(signed + sign(device, signed))


async def test_a_phone_makes_its_own_codes_from_a_device_credential(ride: Ride) -> None:
    device = ec.generate_private_key(ec.SECP256R1())
    public = device.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    status, credential = await ride.rider.post(
        "/v1/ride-credentials", {"device_public_key": base64.b64encode(public).decode(), "algorithm": "ES256"}
    )
    assert status == 201
    hours = (
        datetime.fromisoformat(credential["valid_until"]) - datetime.fromisoformat(credential["valid_from"])
    ).total_seconds() / 3600
    assert 24 <= hours <= 72
    raw = base64.b64decode(credential["credential"])
    assert len(raw) == fmt.CREDENTIAL_SIZE
    gate = await ride.gate(METRO)
    stops = ride.stops(METRO)
    payload = await device_code(raw, device, now(ride), 1)
    assert len(base45.decode(payload)) == 198
    assert (await ride.scan(gate, payload, stops[0]))["decision"] == "open"
    replay = await ride.scan(gate, payload, stops[0], gate_id="g2")
    assert replay["decision"] == "deny"
    out = await ride.scan(gate, await device_code(raw, device, now(ride), 2), stops[-1], "out")
    assert out["decision"] == "open" and out["fare"]["amount"] > 0


async def test_a_revoked_device_credential_is_refused(ride: Ride) -> None:
    device = ec.generate_private_key(ec.SECP256R1())
    public = device.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    )
    _, credential = await ride.rider.post(
        "/v1/ride-credentials", {"device_public_key": base64.b64encode(public).decode(), "algorithm": "ES256"}
    )
    await ride.services.transit.deny_list.change(
        "credential", credential["credential_id"], "add", "phone lost"
    )
    gate = await ride.gate(METRO)
    raw = base64.b64decode(credential["credential"])
    answer = await ride.scan(gate, await device_code(raw, device, now(ride), 1), ride.stops(METRO)[0])
    assert (answer["decision"], answer["reason"]) == ("deny", "revoked")


async def test_a_bad_device_key_is_400(ride: Ride) -> None:
    status, body = await ride.rider.post(
        "/v1/ride-credentials",
        {"device_public_key": base64.b64encode(b"\x04" + b"\x01" * 64).decode(), "algorithm": "ES256"},
    )
    assert status == 400 and "device_public_key" in body["error"]["details"]["fields"]


async def test_tap_ids_are_unique_per_operator_not_across_operators(
    ride: Ride, pg: asyncpg.Connection
) -> None:
    metro, bus = await ride.gate(METRO), await ride.gate("shenzhen_bus")
    stamp = ride.clock.now().isoformat()
    for gate, station in ((metro, ride.stops(METRO)[0]), (bus, ride.stops("shenzhen_bus")[0])):
        tap = {
            "tap_id": "gate-7-1",
            "payload": (await ride.code("shenzhen"))["payload"],
            "gate_id": "7",
            "station": station,
            "direction": "in",
            "scanned_at": stamp,
        }
        status, result = await gate.post("/v1/gate/taps:batch", {"taps": [tap]})
        assert (status, result["accepted"], result["duplicates"]) == (200, 1, 0)
    assert await pg.fetchval("SELECT count(*) FROM tap_uploads") == 2


async def test_an_offline_gate_forgets_a_rider_inside_after_the_journey_limit(
    ride: Ride, tmp_path: Path
) -> None:
    gate, _ = await offline_gate(ride, ride.stops(METRO)[0], tmp_path / "gate.sqlite3")
    assert gate.validate((await ride.code("shenzhen"))["payload"], "in", now(ride)).decision == "open"
    assert gate.rules is not None
    ride.clock.advance(minutes=gate.rules.max_journey_minutes + 1)
    assert gate.validate((await ride.code("shenzhen"))["payload"], "in", now(ride)).decision == "open"


async def test_a_rider_revokes_a_lost_phones_credential(ride: Ride) -> None:
    device = ec.generate_private_key(ec.SECP256R1())
    public = device.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    )
    _, credential = await ride.rider.post(
        "/v1/ride-credentials", {"device_public_key": base64.b64encode(public).decode(), "algorithm": "ES256"}
    )
    stranger = await ride.api.sign_in("thief")
    assert (await stranger.delete(f"/v1/ride-credentials/{credential['credential_id']}"))[0] == 404
    assert (await ride.rider.delete(f"/v1/ride-credentials/{credential['credential_id']}"))[0] == 204
    gate = await ride.gate(METRO)
    raw = base64.b64decode(credential["credential"])
    answer = await ride.scan(gate, await device_code(raw, device, now(ride), 1), ride.stops(METRO)[0])
    assert (answer["decision"], answer["reason"]) == ("deny", "revoked")
    _, delta = await gate.get("/v1/gate/denylist?since=0")
    assert [(c["kind"], c["value"]) for c in delta["changes"]] == [
        ("credential", credential["credential_id"])
    ]
