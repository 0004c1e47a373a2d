"""How far behind the background money and tap work is: the charges, refunds and offline taps
waiting for their jobs, each a count and the age of the oldest, read at each /metrics scrape.

Each figure reads a partial index that holds only rows still waiting, so decided rows (millions)
are never read, and each count stops at `limit` rows. The ages of charges and offline taps are
measured with now(): the times they start from (`updated_at`, `received_at`) are written by
now() too; a refund line's `created_at` is written by the app's clock, so its age is too."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bayaffairs.storage import Connection, returned


@dataclass(frozen=True)
class Pile:
    count: int  # at most the `limit` asked for
    oldest_seconds: float  # 0 when nothing waits


@dataclass(frozen=True)
class BacklogFigures:
    charges: Pile
    refunds: Pile
    uploads: Pile


# What claim_charges (journeys.py) takes, claimed or not: every branch is inside the predicate
# of journeys_to_charge (0003), which the planner then reads.
_CHARGE_DUE = """
    j.charge_status IN ('held', 'pending', 'charging')
    AND (j.charge_status = 'pending'
         OR (j.charge_status = 'held' AND j.updated_at < now() - make_interval(secs => $2))
         OR (j.charge_status = 'charging' AND j.updated_at < now() - make_interval(secs => $3)))
"""


async def backlog(
    conn: Connection, *, limit: int, hold_seconds: int, stale_seconds: int, at: datetime
) -> BacklogFigures:
    """The three piles at once. Charges: journeys_to_charge, read in updated_at order for the
    oldest. A journey is due from its last change (`updated_at`: priced, put back, claimed by a
    worker now dead), a held one from the end of its hold. Refunds: journey_refunds_due
    (pending or refunding lines), aged from their creation (journey_refunds_due_since, 0058;
    `created_at` is the app clock's, so measured from `at`, the clock's now). Offline taps:
    tap_uploads_pending_received (0054), whose oldest receipt is found per slot (0-15:
    uploads.py `slot_of`), one short probe each."""
    row = returned(
        await conn.fetchrow(
            f"""
            SELECT
                (SELECT count(*) FROM (SELECT 1 FROM journeys j WHERE {_CHARGE_DUE} LIMIT $1) c)
                    AS charges,
                least(
                    (SELECT j.updated_at FROM journeys j
                     WHERE j.charge_status IN ('held', 'pending', 'charging')
                       AND (j.charge_status = 'pending'
                            OR (j.charge_status = 'charging'
                                AND j.updated_at < now() - make_interval(secs => $3)))
                     ORDER BY j.updated_at LIMIT 1),
                    (SELECT j.updated_at + make_interval(secs => $2) FROM journeys j
                     WHERE j.charge_status IN ('held', 'pending', 'charging') AND j.charge_status = 'held'
                       AND j.updated_at < now() - make_interval(secs => $2)
                     ORDER BY j.updated_at LIMIT 1)
                ) AS charges_since,
                (SELECT count(*) FROM (SELECT 1 FROM journey_refunds r
                                       WHERE r.status IN ('pending', 'refunding') LIMIT $1) c)
                    AS refunds,
                (SELECT r.created_at FROM journey_refunds r WHERE r.status IN ('pending', 'refunding')
                 ORDER BY r.created_at LIMIT 1)
                    AS refunds_since,
                (SELECT count(*) FROM (SELECT 1 FROM tap_uploads u WHERE u.state = 'pending' LIMIT $1) c)
                    AS uploads,
                (SELECT min(o.received_at) FROM generate_series(0, 15) s (slot)
                 CROSS JOIN LATERAL (SELECT u.received_at FROM tap_uploads u
                                     WHERE u.state = 'pending' AND u.slot = s.slot
                                     ORDER BY u.received_at LIMIT 1) o)
                    AS uploads_since,
                now() AS at
            """,
            limit,
            hold_seconds,
            stale_seconds,
        )
    )

    def pile(name: str, now: datetime) -> Pile:
        since = row[f"{name}_since"]
        age = 0.0 if since is None else max(0.0, (now - since).total_seconds())
        return Pile(int(row[name]), age)

    return BacklogFigures(pile("charges", row["at"]), pile("refunds", at), pile("uploads", row["at"]))
