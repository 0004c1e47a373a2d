"""What a rider still owes or has under way: what blocks deleting the account, and the debts an
export lists. Until the rider-debts work lands (`GET /v1/me/debts`), a debt is a journey whose
charge was declined."""

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
        SELECT id, id AS journey_id, operator, coalesce(charge_amount, fare_amount) AS amount,
               coalesce(charge_currency, fare_currency) AS currency,
               coalesce(exit_at, entry_at) AS incurred_at
        FROM journeys
        WHERE user_id = $1 AND charge_status = 'failed'
        ORDER BY coalesce(exit_at, entry_at), id
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
