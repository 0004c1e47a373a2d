"""A gate in a process of its own, for the crash tests.

`python -m tests.gate.gate_process STORE GATE_ID STATION` opens the gate's store, then decides
each tap read from stdin (one JSON line: payload, direction, now) and prints one JSON line per
decision, flushed, as a gate opens its barrier on it. No network: the store was synced before.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bayaffairs.gate.offline import OfflineGate
from bayaffairs.gate.store import GateStore


def main(store_path: str, gate_id: str, station: str) -> None:
    gate = OfflineGate(gate_id=gate_id, station=station, store=GateStore(Path(store_path)))
    for line in sys.stdin:
        tap = json.loads(line)
        decision = gate.validate(tap["payload"], tap["direction"], tap["now"])
        answer = {"decision": decision.decision, "reason": decision.reason, "tap_id": decision.tap_id}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:4])
