"""A day of a million journeys through settlement: `python -m bench.settlement [--journeys N]`.

Writes N priced journeys of one operator (`foshan_metro`, which no other bench uses) on one local
day two days back into the bench database (`bayaffairs_bench`, migrated first), then runs each
phase in a fresh process and prints its time and memory:

- `open-csv`: the day's CSV while it is open (keyset pages over the journeys);
- `close`: closing it (lines written by one INSERT ... SELECT, the CSV hashed page by page);
- `closed-csv`: the closed CSV (pages of the stored lines);
- `open-json`: every JSON page of the day while it is open, as the API dumps them;
- `closed-json`: every JSON page of the closed day, as the API dumps them.

Memory: the process's resident set after start-up (imports, config, pools) and its peak
(VmHWM) at the end of the phase: their difference is what the phase held at most. Bounded memory
means that difference does not grow with N.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Coroutine
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import orjson

from bench.service import PLAIN, ROOT, _create_database, bayaffairs_command, bench_database_url, service_env

OPERATOR = "foshan_metro"
ZONE = ZoneInfo("Asia/Shanghai")
PHASES = ("open-csv", "open-json", "close", "closed-csv", "closed-json")


def _kb(field: str) -> int:
    with Path("/proc/self/status").open(encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


async def seed(count: int, day: date) -> None:
    conn = await asyncpg.connect(bench_database_url())
    try:
        await conn.execute("DELETE FROM settlement_lines WHERE operator = $1", OPERATOR)
        await conn.execute("DELETE FROM settlement_days WHERE operator = $1", OPERATOR)
        await conn.execute("DELETE FROM journeys WHERE operator = $1", OPERATOR)
        await conn.execute(
            "INSERT INTO users (id, display_name, category) VALUES ('bench-settlement', 'bench', 'adult')"
            " ON CONFLICT DO NOTHING"
        )
        start = datetime.combine(day, datetime.min.time(), ZONE)
        await conn.execute(
            """
            INSERT INTO journeys (id, account_token, user_id, operator, category, status, entry_station,
                entry_at, exit_station, exit_at, fare_amount, fare_currency, fare_rule, charge_amount,
                charge_currency, fx_rate, fx_source, charge_status)
            SELECT 'bs' || lpad(n::text, 9, '0'), int8send(n), 'bench-settlement', $1, 'adult', 'completed',
                   'zumiao', $2::timestamptz + make_interval(secs => n * 86000.0 / $3::int),
                   'foshan_west', $2::timestamptz + make_interval(secs => n * 86000.0 / $3::int + 300),
                   200 + (n % 7) * 100, 'CNY', 'bench', 220 + (n % 7) * 109, 'HKD', 1.0923000000, 'demo',
                   CASE WHEN n % 50 = 0 THEN 'failed' ELSE 'charged' END
            FROM generate_series(1, $3::int) AS n
            """,
            OPERATOR,
            start,
            count,
        )
        await conn.execute("ANALYZE journeys")
    finally:
        await conn.close()


async def phase(name: str, day: date) -> dict[str, object]:
    from bayaffairs.config import load_config
    from bayaffairs.handlers.operators import settlement_body
    from bayaffairs.handlers.schemas.transit import SettlementOut
    from bayaffairs.wiring.root import assembled

    config = load_config(profile="test", environ=dict(os.environ))
    async with assembled(config) as wiring:
        settlements = wiring.services.transit.settlements
        rss_start = _kb("VmRSS")
        started = time.perf_counter()
        size = 0
        if name in ("open-csv", "closed-csv"):
            async for chunk in settlements.csv(OPERATOR, day):
                size += len(chunk)
        elif name == "close":
            closed = await settlements.close(OPERATOR, day)
            size = sum(c.lines + c.adjustments for c in closed)
        else:
            cursor: str | None = None
            schema = SettlementOut()
            while True:
                page = await settlements.page(OPERATOR, day, cursor=cursor)
                size += len(orjson.dumps(schema.dump(settlement_body(page))))
                cursor = page.next_cursor
                if cursor is None:
                    break
        seconds = time.perf_counter() - started
    return {
        "phase": name,
        "seconds": round(seconds, 2),
        "bytes_or_lines": size,
        "rss_start_mb": rss_start // 1024,
        "peak_mb": _kb("VmHWM") // 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--journeys", type=int, default=1_000_000)
    parser.add_argument("--phase", choices=PHASES, help=argparse.SUPPRESS)
    parser.add_argument("--day", help=argparse.SUPPRESS)
    args = parser.parse_args()
    env = service_env(PLAIN)
    if args.phase:
        os.environ.update(env)
        print(json.dumps(asyncio.run(phase(args.phase, date.fromisoformat(args.day)))))
        return
    day = datetime.now(ZONE).date() - timedelta(days=2)
    asyncio.run(_create_database(bench_database_url(), False))
    subprocess.run([*bayaffairs_command(), "migrate", "--quiet"], env=env, cwd=ROOT, check=True)
    _timed(f"seed {args.journeys} journeys of {OPERATOR} on {day}", seed(args.journeys, day))
    for name in PHASES:
        out = subprocess.run(
            [sys.executable, "-m", "bench.settlement", "--phase", name, "--day", day.isoformat()],
            cwd=ROOT,
            check=False,
            capture_output=True,
            text=True,
        )
        if out.returncode != 0:
            raise SystemExit(f"{name} failed:\n{out.stderr[-3000:]}")
        result = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"{name:12} {result['seconds']:8.2f} s  {result['bytes_or_lines']:>12}"
            f" {'lines' if name == 'close' else 'bytes'}"
            f"  RSS at start {result['rss_start_mb']} MB, peak {result['peak_mb']} MB"
        )


def _timed(label: str, work: Coroutine[Any, Any, None]) -> None:
    started = time.perf_counter()
    asyncio.run(work)
    print(f"{label}: {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
