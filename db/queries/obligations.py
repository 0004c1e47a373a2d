"""What a rider still owes or has under way: what blocks deleting the account, and the debts an
export lists (ride charges the wallet declined, ride_debts: see bayaffairs/transit/debts.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bayaffairs.storage import Connection


@dataclass(frozen=True)
class Debt:
    id: str  # the id `POST /v1/me/debts/{id}/payment` takes
    journey_id: str
    operator: str
    amount: int
    currency: str
    incurred_at: datetime


@dataclass(frozen=True)
class UnderWay:
    """Money or travel still moving: finished, the account can go."""

    open_journeys: int
    charges_pending: int  # fares priced, not yet charged (held for a repair, or queued)
    payments_in_progress: int  # travel bookings being paid for


def _debt(record: Any) -> Debt:
    return Debt(**dict(record))


async def debts(conn: Connection, user_id: str) -> list[Debt]:
    records = await conn.fetch(
        """
        SELECT id, journey_id, operator, amount, currency, incurred_at
        FROM ride_debts
        WHERE user_id = $1 AND status <> 'paid'
        ORDER BY incurred_at, id
        """,
        user_id,
    )
    return [_debt(r) for r in records]


async def under_way(conn: Connection, user_id: str) -> UnderWay:
    record = await conn.fetchrow(
        """
        SELECT
            (SELECT count(*) FROM journeys WHERE user_id = $1 AND status = 'open') AS open_journeys,
            (SELECT count(*) FROM journeys
             WHERE user_id = $1 AND charge_status IN ('held', 'pending', 'charging')) AS charges_pending,
            (SELECT count(*) FROM travel_bookings WHERE user_id = $1 AND status = 'paying')
                AS payments_in_progress
        """,
        user_id,
    )
    assert record is not None
    return UnderWay(**dict(record))
