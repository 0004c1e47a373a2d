"""`fuzz`: the long run of the suite's OpenAPI fuzzing (tests/fuzz), with many more examples.

The suite's run (10 examples per operation and credential kind it takes) is bounded to keep
`./scripts/test` near a minute; this one runs the same test with BAYAFFAIRS_FUZZ_EXAMPLES
(default `EXAMPLES`) in a pytest process of its own, on a database of its own made from the
test database's name (as the suite does) and Redis db 15 under a run prefix, never the bench's
or the application's data. The row's requests are the pytest items (operation x credential);
a failed one is a finding (no 5xx, nothing outside the document), and marks the row CHECK.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from urllib.parse import urlsplit, urlunsplit

from bench import ROOT, uploads
from bench.service import Fixtures
from bench.transit import Assessment
from bench.wrk import WrkResult

EXAMPLES = 200
_SUMMARY = re.compile(r"(\d+) (passed|failed|error|errors)\b")


def _environment() -> dict[str, str]:
    database = os.environ.get("BAYAFFAIRS_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/bayaffairs")
    redis = os.environ.get("BAYAFFAIRS_REDIS_URL", "redis://127.0.0.1:6379/0")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BAYAFFAIRS_")}
    env.update(
        BAYAFFAIRS_PROFILE="test",
        BAYAFFAIRS_TEST_DATABASE_URL=os.environ.get(
            "BAYAFFAIRS_TEST_DATABASE_URL", urlunsplit(urlsplit(database)._replace(path="/bayaffairs_test"))
        ),
        BAYAFFAIRS_TEST_REDIS_URL=os.environ.get(
            "BAYAFFAIRS_TEST_REDIS_URL", urlunsplit(urlsplit(redis)._replace(path="/15"))
        ),
        BAYAFFAIRS_FUZZ_EXAMPLES=os.environ.get("BAYAFFAIRS_FUZZ_EXAMPLES", str(EXAMPLES)),
        PYTHONPATH=str(ROOT),
    )
    return env


def fuzz(fx: Fixtures, timing: uploads.Timing, window: uploads.Window) -> tuple[WrkResult, Assessment]:
    env = _environment()
    argv = [sys.executable, "-m", "pytest", "tests/fuzz", "-q", "-p", "no:cacheprovider", "-rf"]
    began = time.monotonic()
    with window():
        done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - began
    log = ROOT / "bench" / "results" / f"fuzz-{int(time.time())}.txt"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(done.stdout + done.stderr, encoding="utf-8")
    counts = {kind: 0 for kind in ("passed", "failed", "error")}
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    for number, kind in _SUMMARY.findall(summary):
        counts["error" if kind.startswith("error") else kind] += int(number)
    items = sum(counts.values())
    findings = [line for line in done.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
    problems = (
        [f"pytest exited {done.returncode}: {summary or done.stderr[-500:]}"] if done.returncode else []
    )
    result = WrkResult(
        requests_per_second=items / seconds if seconds else 0.0,
        p50_ms=0.0,
        p99_ms=0.0,
        requests=items,
        non_2xx=counts["failed"] + counts["error"],
        socket_errors={},
        counters=counts,
        seconds=seconds,
    )
    return result, Assessment(
        figures={"examples_per_operation": float(env["BAYAFFAIRS_FUZZ_EXAMPLES"]), **counts},
        notes=[
            f"{env['BAYAFFAIRS_FUZZ_EXAMPLES']} examples per operation and credential kind it takes: "
            f"{summary} ({seconds:.0f} s); pytest's output: {log.relative_to(ROOT)}",
            *findings[:20],
        ],
        problems=problems,
    )
