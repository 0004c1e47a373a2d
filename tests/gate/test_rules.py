"""The gate decides by its operator's rules, as the service publishes them with the keys, and
the gates of a station group share one memory of who is inside."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from bayaffairs.gate import store as store_module
from bayaffairs.gate.client import GateClient
from bayaffairs.gate.offline import OfflineGate
from bayaffairs.gate.store import Decision, GateStore, LastTap
from tests.gate.support import T0, Issuer, rider
from tests.transit.conftest import Ride

# Maximum journey times per shared/domain/gba.md (as issue 15 reads it): MTR 150, Macao LRT 120.
MAXIMUM_MINUTES = {"mtr": ("hong_kong", 150), "macao_lrt": ("macao", 120)}


def gate_on(path: Path, gate_id: str, document: dict[str, object], station: str = "central") -> OfflineGate:
    gate = OfflineGate(gate_id=gate_id, station=station, store=GateStore(path))
    gate.apply_keys(document, None, T0)
    gate.apply_denylist({"changes": [], "next_cursor": 0, "complete": True}, T0)
    return gate


@pytest.mark.parametrize("operator", sorted(MAXIMUM_MINUTES))
async def test_the_keys_document_carries_the_operators_rules(ride: Ride, operator: str) -> None:
    status, document = await (await ride.gate(operator)).get("/v1/gate/keys")
    assert status == 200
    rules = ride.operator(operator).rules
    assert document["rules"] == {
        "operator": operator,
        "tap_out": True,
        "max_journey_minutes": MAXIMUM_MINUTES[operator][1],
        "tap_out_without_tap_in": rules.tap_out_without_tap_in,
        "max_stale_hours": rules.max_stale_hours,
        "stale_policy": rules.stale_policy,
    }


@pytest.mark.parametrize("operator", sorted(MAXIMUM_MINUTES))
async def test_a_rider_stays_inside_for_the_operators_maximum_journey_time(
    ride: Ride, operator: str, tmp_path: Path
) -> None:
    city, minutes = MAXIMUM_MINUTES[operator]
    token = (await ride.gate(operator)).token
    assert token is not None
    client: TestClient = ride.api.client
    gate = OfflineGate(gate_id="g1", station=ride.stops(operator)[0], store=GateStore(tmp_path / "g.sqlite3"))
    started = int(ride.clock.now().timestamp())
    await GateClient(client.session, str(client.make_url("")), token).sync(gate, started)
    assert gate.validate((await ride.code(city))["payload"], "in", started).decision == "open"
    ride.clock.advance(minutes=minutes - 1)
    again = gate.validate((await ride.code(city))["payload"], "in", started + (minutes - 1) * 60)
    assert (again.decision, again.reason) == ("deny", "unfinished_journey")
    ride.clock.advance(minutes=2)
    later = started + (minutes + 1) * 60
    assert gate.validate((await ride.code(city))["payload"], "in", later).decision == "open"


def test_a_gate_that_never_synced_opens_for_nobody(tmp_path: Path) -> None:
    gate = OfflineGate(gate_id="g1", station="central", store=GateStore(tmp_path / "g.sqlite3"))
    decision = gate.validate(Issuer().code(rider(), T0), "in", T0)
    assert (decision.decision, decision.reason) == ("deny", "not_synced")


def test_the_gates_of_a_station_group_share_who_is_inside(tmp_path: Path) -> None:
    issuer, someone = Issuer(), rider()
    document = issuer.document()
    east = gate_on(tmp_path / "station.sqlite3", "east-1", document)
    west = gate_on(tmp_path / "station.sqlite3", "west-4", document)  # another process, same file
    elsewhere = gate_on(tmp_path / "other.sqlite3", "x-1", document, "admiralty")
    assert east.validate(issuer.code(someone, T0), "in", T0).decision == "open"
    second = issuer.code(someone, T0 + 30)
    assert (west.validate(second, "in", T0 + 30).reason) == "unfinished_journey"
    assert elsewhere.validate(second, "in", T0 + 30).decision == "open"  # the control: no shared memory
    out = issuer.code(someone, T0 + 600)
    assert west.validate(out, "out", T0 + 600).decision == "open"
    assert east.validate(out, "out", T0 + 601).reason == "replayed"
    assert east.validate(issuer.code(someone, T0 + 900), "in", T0 + 900).decision == "open"


def test_an_exit_is_denied_only_when_the_group_knows_the_rider_is_out(tmp_path: Path) -> None:
    """Offline, an exit gate cannot know entries at other stations: under a "deny" orphan policy
    it refuses only a rider its group saw leave (a second exit), never one it knows nothing of."""
    issuer, someone = Issuer(), rider()
    gate = gate_on(tmp_path / "g.sqlite3", "g1", issuer.document(tap_out_without_tap_in="deny"))
    assert gate.validate(issuer.code(someone, T0), "out", T0).decision == "open"
    again = gate.validate(issuer.code(someone, T0 + 20), "out", T0 + 20)
    assert (again.decision, again.reason) == ("deny", "wrong_direction")
    lenient = gate_on(tmp_path / "h.sqlite3", "h1", issuer.document())
    lenient.validate(issuer.code(someone, T0), "out", T0)
    assert lenient.validate(issuer.code(someone, T0 + 20), "out", T0 + 20).decision == "open"  # max_fare


class WithoutTransaction(GateStore):
    """The control: a store that decides without taking the write lock first."""

    @contextmanager
    def deciding(self) -> Iterator[Decision]:
        yield Decision(self._conn, self.store_id)


@pytest.mark.parametrize("store_class", [GateStore, WithoutTransaction], ids=["locked", "control"])
def test_two_gates_deciding_on_one_code_at_once_open_once(
    tmp_path: Path, store_class: type[GateStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    issuer = Issuer()
    document = issuer.document()
    gates = []
    for name in ("east-1", "east-2"):
        gate = OfflineGate(gate_id=name, station="central", store=store_class(tmp_path / "station.sqlite3"))
        gate.apply_keys(document, None, T0)
        gate.apply_denylist({"changes": [], "next_cursor": 0, "complete": True}, T0)
        gates.append(gate)
    both_looked = threading.Barrier(2, timeout=1.0)
    last_tap = store_module.Decision.last_tap

    def look_then_wait(self: Decision, account: bytes) -> LastTap | None:
        """After its last read, each gate waits for the other to have read too (which the lock
        makes impossible: the other waits for it)."""
        found = last_tap(self, account)
        with suppress(threading.BrokenBarrierError):
            both_looked.wait()
        return found

    monkeypatch.setattr(store_module.Decision, "last_tap", look_then_wait)
    code = issuer.code(rider(), T0)
    decisions: list[str] = []
    threads = [
        threading.Thread(target=lambda g=g: decisions.append(g.validate(code, "in", T0).decision))
        for g in gates
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    expected = ["deny", "open"] if store_class is GateStore else ["open", "open"]
    assert sorted(decisions) == expected
