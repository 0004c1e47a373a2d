"""A gate knows when it last synced keys and the deny list; past its operator's
`max_stale_hours` it follows the operator's stale policy: deny, or open and flag the taps, which
the operator then sees among its flagged taps."""

from __future__ import annotations

from pathlib import Path

from aiohttp.test_utils import TestClient

from bayaffairs.gate.client import GateClient
from bayaffairs.gate.offline import OfflineGate
from bayaffairs.gate.store import GateStore
from tests.gate.support import T0, Issuer, rider
from tests.gate.test_rules import gate_on
from tests.transit.conftest import Ride

HOUR = 3600


async def test_the_keys_document_carries_each_operators_stale_policy(ride: Ride) -> None:
    for operator in ("mtr", "kmb"):
        rules = ride.operator(operator).rules
        status, document = await (await ride.gate(operator)).get("/v1/gate/keys")
        assert status == 200
        assert (document["rules"]["max_stale_hours"], document["rules"]["stale_policy"]) == (
            rules.max_stale_hours,
            rules.stale_policy,
        )
    assert (ride.operator("mtr").rules.stale_policy, ride.operator("kmb").rules.stale_policy) == (
        "deny",
        "flag",
    )


def test_a_gate_knows_when_it_last_synced(tmp_path: Path) -> None:
    gate = OfflineGate(gate_id="g1", station="central", store=GateStore(tmp_path / "g.sqlite3"))
    assert gate.synced_at() == (None, None)
    gate.apply_keys(Issuer().document(), None, T0)
    gate.apply_denylist({"changes": [], "next_cursor": 0, "complete": False}, T0 + 5)  # a first page
    assert gate.synced_at() == (T0, None)
    gate.apply_denylist({"changes": [], "next_cursor": 0, "complete": True}, T0 + 9)
    again = OfflineGate(gate_id="g2", station="central", store=GateStore(tmp_path / "g.sqlite3"))
    assert again.synced_at() == (T0, T0 + 9)  # the group's, on disk


def test_past_max_stale_hours_a_deny_gate_refuses_everyone(tmp_path: Path) -> None:
    issuer = Issuer()
    gate = gate_on(tmp_path / "g.sqlite3", "g1", issuer.document(max_stale_hours=12, stale_policy="deny"))
    last_fresh = T0 + 12 * HOUR
    assert gate.validate(issuer.code(rider(), last_fresh), "in", last_fresh).decision == "open"
    late = last_fresh + 1
    decision = gate.validate(issuer.code(rider(), late), "in", late)
    assert (decision.decision, decision.reason) == ("deny", "stale")
    gate.apply_denylist({"changes": [], "next_cursor": 0, "complete": True}, late)
    decision = gate.validate(issuer.code(rider(), late), "in", late)  # the keys are as old as ever
    assert (decision.decision, decision.reason) == ("deny", "stale")
    gate.apply_keys(issuer.document(max_stale_hours=12, stale_policy="deny"), None, late)
    assert gate.validate(issuer.code(rider(), late), "in", late).decision == "open"


def test_past_max_stale_hours_a_flag_gate_opens_and_flags_the_tap(tmp_path: Path) -> None:
    issuer = Issuer()
    gate = gate_on(tmp_path / "g.sqlite3", "g1", issuer.document(max_stale_hours=12, stale_policy="flag"))
    fresh = gate.validate(issuer.code(rider(), T0 + HOUR), "in", T0 + HOUR)
    late = T0 + 13 * HOUR
    stale = gate.validate(issuer.code(rider(), late), "in", late)
    assert (fresh.decision, fresh.reason, stale.decision, stale.reason) == ("open", None, "open", "stale")
    flags = {tap["tap_id"]: tap.get("flags") for _, tap in gate.store.pending("g1", 10)}
    assert flags == {fresh.tap_id: None, stale.tap_id: ["stale"]}


async def test_the_operator_sees_the_taps_a_stale_gate_flagged(ride: Ride, tmp_path: Path) -> None:
    operator = "kmb"
    assert ride.operator(operator).rules.stale_policy == "flag"
    station = ride.stops(operator)[0]
    token = (await ride.gate(operator)).token
    assert token is not None
    client: TestClient = ride.api.client
    gate_client = GateClient(client.session, str(client.make_url("")), token)
    gate = OfflineGate(gate_id="bus-17", station=station, store=GateStore(tmp_path / "bus.sqlite3"))
    synced = int(ride.clock.now().timestamp())
    await gate_client.sync(gate, synced)
    fresh = gate.validate((await ride.code("hong_kong"))["payload"], "in", synced)
    ride.clock.advance(hours=ride.operator(operator).rules.max_stale_hours, minutes=1)
    late = int(ride.clock.now().timestamp())
    stale = gate.validate((await ride.code("hong_kong"))["payload"], "in", late)
    assert (fresh.reason, stale.decision, stale.reason) == (None, "open", "stale")
    assert await gate_client.upload(gate) == {"accepted": 2, "duplicates": 0, "rejected": 0}

    staff = ride.api.as_((await ride.services.credentials.issue("operator", operator)).token)
    status, page = await staff.get(f"/v1/operators/{operator}/flagged-taps")
    assert status == 200
    assert [(t["tap_id"], t["gate_id"], t["flags"]) for t in page["items"]] == [
        (stale.tap_id, "bus-17", ["stale"])
    ]
    assert page["next_cursor"] is None


async def test_a_tap_with_a_flag_no_gate_sets_is_rejected(ride: Ride) -> None:
    gate = await ride.gate("kmb")
    tap = {
        "tap_id": "t-1",
        "payload": (await ride.code("hong_kong"))["payload"],
        "gate_id": "bus-17",
        "station": ride.stops("kmb")[0],
        "direction": "in",
        "scanned_at": ride.clock.now().isoformat(),
        "flags": ["trusted"],
    }
    status, body = await gate.post("/v1/gate/taps:batch", {"taps": [tap]})
    assert (status, body["accepted"], body["rejected"]) == (200, 0, [{"index": 0, "reason": "invalid_flags"}])
