"""Load benchmarks of the real service against a bare aiohttp app, run by hand (`make bench`).

Never part of the unit tests: a run takes minutes, needs wrk, PostgreSQL and Redis, and its
numbers only mean something next to the baseline measured in the same run.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
