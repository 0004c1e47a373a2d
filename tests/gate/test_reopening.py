"""A power cut between recording a tap and opening the barrier must not leave the rider outside,
recorded as inside: the restarted gate opens again for that code, once, without a second tap."""

from __future__ import annotations

from pathlib import Path

from bayaffairs.gate.offline import REOPEN_SECONDS
from tests.gate.support import T0, Issuer, rider
from tests.gate.test_rules import gate_on


def test_a_restarted_gate_opens_again_for_the_tap_it_recorded_before(tmp_path: Path) -> None:
    issuer, path = Issuer(), tmp_path / "station.sqlite3"
    document = issuer.document()
    code = issuer.code(rider(), T0)
    before = gate_on(path, "east-1", document)
    first = before.validate(code, "in", T0)
    assert first.decision == "open"
    assert before.validate(code, "in", T0 + 5).reason == "replayed"  # the same process: a replay

    restarted = gate_on(path, "east-1", document)  # power back: the same gate, a new process
    neighbour = gate_on(path, "east-2", document)
    assert neighbour.validate(code, "in", T0 + 20).reason == "replayed"
    again = restarted.validate(code, "in", T0 + 20)
    assert (again.decision, again.reason, again.tap_id) == ("open", "reopened", first.tap_id)
    assert restarted.validate(code, "in", T0 + 25).reason == "replayed"  # once
    assert [tap["tap_id"] for _, tap in restarted.store.pending(None, 10)] == [first.tap_id]


def test_a_restarted_gate_reopens_only_for_a_recent_tap(tmp_path: Path) -> None:
    issuer, path = Issuer(), tmp_path / "station.sqlite3"
    document = issuer.document()
    code = issuer.code(rider(), T0)
    assert gate_on(path, "east-1", document).validate(code, "in", T0).decision == "open"
    late = gate_on(path, "east-1", document).validate(code, "in", T0 + REOPEN_SECONDS + 1)
    assert (late.decision, late.reason) == ("deny", "replayed")
