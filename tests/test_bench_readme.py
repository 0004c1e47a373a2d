"""bench/README.md lists every scenario the harness runs, so a reader knows what a row measures."""

from __future__ import annotations

import re
from pathlib import Path

from bench.scenarios import SCENARIOS

README = Path(__file__).resolve().parents[1] / "bench" / "README.md"


def test_every_scenario_has_a_row_in_the_bench_readme() -> None:
    rows = set(re.findall(r"^\| `([a-z0-9_]+)` \|", README.read_text(encoding="utf-8"), re.MULTILINE))
    assert rows >= {"baseline", "scan"}  # control: the table is where we look
    missing = sorted(s.name for s in SCENARIOS if s.name not in rows)
    assert missing == [], f"add a row to the Scenarios table of bench/README.md for: {missing}"
