"""The drain's claim of a slot's pending uploads, as PostgreSQL runs it on a table whose statistics
are stale (filled since it was last analyzed, as with autovacuum off or behind): it reads the
slot's uploads in scan order from an index in the claim's own order and stops at the batch,
never reading a whole slot through the receipt-time index (0054) and sorting it (issue 15,
throughput; 0057). On a bench table of 1M dead and 400,000 pending uploads, without ANALYZE, the
sorting plan read 25,000 rows a claim of 500 (0.17-0.7 s).

The claim runs in a function (db/functions/claim_pending_uploads.sql), so its plan is read with
auto_explain (nested statements), logged to this connection. Run in a transaction rolled back at
the end: the uploads it adds are never seen by ANALYZE (nor autovacuum's), so they stay unknown
to the planner's statistics, as a backlog filled since the last ANALYZE is."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg
import orjson

from bayaffairs.db.queries import tap_uploads as q
from tests.support import START

DECIDED = 20_000  # uploads once pending, then decided: dead versions in the pending indexes
PENDING = 16_000  # settled, over every slot
SLOT = 5
LIMIT = 100


def nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan] + [n for child in plan.get("Plans", ()) for n in nodes(child)]


async def populated(pg: asyncpg.Connection) -> None:
    await pg.execute(
        """
        INSERT INTO tap_uploads (operator, tap_id, gate_id, station, direction, payload, scanned_at,
                                 received_at, slot)
        SELECT 'shenzhen_bus', 'd' || g, 'g1', 's1', 'in', 'payload',
               $1::timestamptz + make_interval(secs => g), now() - interval '2 days', g % 16
        FROM generate_series(1, $2) g
        """,
        START - timedelta(days=3),
        DECIDED,
    )
    await pg.execute("UPDATE tap_uploads SET state = 'recorded', processed_at = now()")
    await pg.execute(
        """
        INSERT INTO tap_uploads (operator, tap_id, gate_id, station, direction, payload, scanned_at,
                                 received_at, slot)
        SELECT 'shenzhen_bus', 'p' || g, 'g1', 's1', 'in', 'payload',
               $1::timestamptz + make_interval(secs => g),
               now() - interval '1 hour' + make_interval(secs => (g * 7919) % 3000), g % 16
        FROM generate_series(1, $2) g
        """,
        START - timedelta(days=1),
        PENDING,
    )


async def test_a_claim_reads_its_batch_in_scan_order_on_stale_statistics(pg: asyncpg.Connection) -> None:
    window = START - timedelta(days=7)
    plans: list[dict[str, Any]] = []

    def logged(_: Any, message: asyncpg.PostgresLogMessage) -> None:
        text = message.message
        if "plan:" in text:
            explained = orjson.loads(text.split("plan:", 1)[1])
            if "SKIP LOCKED" in explained["Query Text"]:  # the claim's (not the check's below)
                plans.append(explained["Plan"])

    transaction = pg.transaction()
    await transaction.start()
    try:
        await populated(pg)
        await pg.execute("LOAD 'auto_explain'")
        for setting, value in (
            ("auto_explain.log_min_duration", "0"),
            ("auto_explain.log_analyze", "on"),
            ("auto_explain.log_nested_statements", "on"),
            ("auto_explain.log_format", "json"),
            ("client_min_messages", "log"),
        ):
            await pg.execute(f"SET LOCAL {setting} = '{value}'")
        pg.add_log_listener(logged)
        claimed = await q.claim_pending(pg, SLOT, LIMIT, 30, window)  # type: ignore[arg-type]
        expected = await pg.fetch(
            """
            SELECT tap_id FROM tap_uploads WHERE state = 'pending' AND slot = $1
            ORDER BY scanned_at, operator, tap_id LIMIT $2
            """,
            SLOT,
            LIMIT,
        )
    finally:
        await transaction.rollback()
        pg.remove_log_listener(logged)

    # What it answers is unchanged: the slot's first uploads in scan order.
    assert [u.tap_id for u in claimed] == [r["tap_id"] for r in expected]
    [scan] = [
        n
        for plan in plans
        for n in nodes(plan)
        if n.get("Relation Name") == "tap_uploads" and "pending" in n.get("Index Name", "")
    ]
    read = {k: scan.get(k) for k in ("Node Type", "Index Name", "Index Cond", "Actual Rows")}
    assert scan["Node Type"] == "Index Scan" and scan["Index Name"] == "tap_uploads_pending", read
    # Read in the claim's order and stopped at the batch: no more than it claims, nothing sorted.
    assert scan["Actual Rows"] + scan.get("Rows Removed by Filter", 0) <= LIMIT, read
    sorts = [n for plan in plans for n in nodes(plan) if "Sort" in n["Node Type"]]
    # Only the batch is sorted, merged with the waiting exits.
    assert all(n["Actual Rows"] <= LIMIT for n in sorts), [(n["Node Type"], n["Actual Rows"]) for n in sorts]
