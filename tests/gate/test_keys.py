"""The gate trusts a key the service staged (published ahead of its turn) only from its
`not_before`: a code it claims to have signed earlier is refused, whoever made it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from tests.gate.support import T0, Issuer, rider
from tests.gate.test_rules import gate_on

DAY = 86400


def test_a_staged_key_is_trusted_from_its_not_before(tmp_path: Path) -> None:
    current, staged = Issuer(key_number=1), Issuer(key_number=2)
    document = current.document()
    turn = T0 + DAY
    document["keys"] += [
        {**staged.document()["keys"][0], "not_before": datetime.fromtimestamp(turn, UTC).isoformat()}
    ]
    gate = gate_on(tmp_path / "g.sqlite3", "g1", document)
    early = gate.validate(staged.code(rider(), T0), "in", T0)
    assert (early.decision, early.reason) == ("deny", "not_yet_valid")
    assert gate.validate(current.code(rider(), T0), "in", T0).decision == "open"
    gate.apply_denylist({"changes": [], "next_cursor": 0, "complete": True}, turn)
    gate.apply_keys(document, None, turn)
    assert gate.validate(staged.code(rider(), turn), "in", turn).decision == "open"


def test_a_key_on_the_deny_list_is_refused_as_revoked_not_unknown(tmp_path: Path) -> None:
    issuer = Issuer(key_number=1)
    gate = gate_on(tmp_path / "g.sqlite3", "g1", issuer.document())
    code = issuer.code(rider(), T0)
    gate.apply_denylist(
        {"changes": [{"kind": "key", "value": "ride_codes-1", "action": "add"}], "next_cursor": 1}, T0
    )
    decision = gate.validate(code, "in", T0)
    assert (decision.decision, decision.reason) == ("deny", "revoked")  # as the online scan answers


def test_a_compromised_key_stays_revoked_after_the_keys_document_drops_it(tmp_path: Path) -> None:
    """The service stops publishing a compromised key; the gate's next keys sync must not turn its
    codes into unknown_key while the deny list still names it (the online scan says revoked)."""
    compromised, current = Issuer(key_number=1), Issuer(key_number=2)
    both = compromised.document()
    both["keys"] += current.document()["keys"]
    gate = gate_on(tmp_path / "g.sqlite3", "g1", both)
    code = compromised.code(rider(), T0)
    gate.apply_denylist(
        {"changes": [{"kind": "key", "value": "ride_codes-1", "action": "add"}], "next_cursor": 1}, T0
    )
    gate.apply_keys(current.document(), None, T0)  # the next sync: the key is no longer published
    decision = gate.validate(code, "in", T0)
    assert (decision.decision, decision.reason) == ("deny", "revoked")
    other = Issuer(key_number=3).code(rider(), T0)  # a key nobody published nor denied
    assert gate.validate(other, "in", T0).reason == "unknown_key"
