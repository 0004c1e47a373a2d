"""Debts: ride charges the rider's wallet declined, retried and payable (0037_ride_debts.sql)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bayaffairs.storage import Connection, Record

_COLUMNS = (
    "d.id, d.journey_id, d.user_id, d.operator, d.amount, d.currency, d.status, d.tries,"
    " d.retries_left, d.next_retry_at, d.incurred_at, d.paid_at, d.provider_reference"
)


@dataclass(frozen=True)
class DebtRow:
    id: str
    journey_id: str
    user_id: str
    operator: str
    amount: int
    currency: str
    status: str  # unpaid | paying | paid
    tries: int
    retries_left: int
    next_retry_at: datetime | None
    incurred_at: datetime
    paid_at: datetime | None
    provider_reference: str | None


@dataclass(frozen=True)
class Claimed:
    """A debt being paid: the charge to ask, under a reference of its own per try."""

    debt: DebtRow
    provider: str | None  # the rider's wallet provider

    @property
    def reference(self) -> str:
        return f"{self.debt.journey_id}:debt:{self.debt.tries}"


def _row(record: Record) -> DebtRow:
    return DebtRow(**dict(record))


@dataclass(frozen=True)
class NewDebt:
    """A declined charge to record as a debt, with `retries` automatic retries, the first at
    `retry_at` (None and 0: none)."""

    debt_id: str
    journey_id: str
    retry_at: datetime | None
    retries: int


async def open_debts(conn: Connection, debts: Sequence[NewDebt], at: datetime) -> list[tuple[str, str]]:
    """The journeys' declined charges as debts, in one statement (a journey that is one already
    is left as it is); (user id, journey id) of each debt made."""
    records = await conn.fetch(
        """
        INSERT INTO ride_debts AS d (id, journey_id, user_id, operator, amount, currency,
                                     retries_left, next_retry_at, incurred_at, created_at)
        SELECT n.id, j.id, j.user_id, j.operator, coalesce(j.charge_amount, j.fare_amount),
               coalesce(j.charge_currency, j.fare_currency), n.retries, n.retry_at,
               coalesce(j.exit_at, j.entry_at), $5
        FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::int[])
             AS n(id, journey_id, retry_at, retries)
        JOIN journeys j ON j.id = n.journey_id AND j.fare_amount IS NOT NULL
        ORDER BY j.id
        ON CONFLICT (journey_id) DO NOTHING
        RETURNING d.user_id, d.journey_id
        """,
        [d.debt_id for d in debts],
        [d.journey_id for d in debts],
        [d.retry_at for d in debts],
        [d.retries for d in debts],
        at,
    )
    return [(r["user_id"], r["journey_id"]) for r in records]


async def for_user(conn: Connection, user_id: str) -> list[DebtRow]:
    records = await conn.fetch(
        f"SELECT {_COLUMNS} FROM ride_debts d WHERE d.user_id = $1 ORDER BY d.id DESC", user_id
    )
    return [_row(r) for r in records]


async def get(conn: Connection, user_id: str, debt_id: str) -> DebtRow | None:
    record = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM ride_debts d WHERE d.user_id = $1 AND d.id = $2", user_id, debt_id
    )
    return _row(record) if record else None


async def claim(conn: Connection, debt_id: str, *, stale_seconds: int, at: datetime) -> Claimed | None:
    """Take an unpaid debt (or one a dead worker left paying for `stale_seconds`, under the same
    try, so the provider answers that try again) for a charge; None when it is not to be had."""
    record = await conn.fetchrow(
        f"""
        UPDATE ride_debts d SET status = 'paying', claimed_at = $2::timestamptz,
            tries = CASE WHEN d.status = 'unpaid' THEN d.tries + 1 ELSE d.tries END
        FROM users u
        WHERE d.id = $1 AND u.id = d.user_id AND (d.status = 'unpaid'
            OR (d.status = 'paying' AND d.claimed_at < $2::timestamptz - make_interval(secs => $3)))
        RETURNING {_COLUMNS}, u.wallet_provider AS provider
        """,
        debt_id,
        at,
        stale_seconds,
    )
    if record is None:
        return None
    values = dict(record)
    provider = values.pop("provider")
    return Claimed(DebtRow(**values), provider)


async def due(conn: Connection, at: datetime, limit: int) -> list[str]:
    """Debts whose automatic retry is due."""
    records = await conn.fetch(
        """
        SELECT id FROM ride_debts
        WHERE status = 'unpaid' AND next_retry_at IS NOT NULL AND next_retry_at <= $1
        ORDER BY next_retry_at LIMIT $2
        """,
        at,
        limit,
    )
    return [r["id"] for r in records]


async def paid(conn: Connection, debt_id: str, *, reference: str, at: datetime) -> DebtRow:
    """The debt is paid: and so is its journey's charge."""
    record = await conn.fetchrow(
        f"""
        UPDATE ride_debts d SET status = 'paid', paid_at = $3, provider_reference = $2,
            next_retry_at = NULL, claimed_at = NULL
        WHERE d.id = $1 RETURNING {_COLUMNS}
        """,
        debt_id,
        reference,
        at,
    )
    assert record is not None
    row = _row(record)
    await conn.execute(
        """
        UPDATE journeys SET charge_status = 'charged', charge_reference = $2, charged_at = $3,
                            updated_at = now()
        WHERE id = $1
        """,
        row.journey_id,
        reference,
        at,
    )
    return row


async def unpaid_again(
    conn: Connection, debt_id: str, *, retry_at: datetime | None, automatic: bool, counted: bool
) -> DebtRow:
    """The try was declined or not answered: unpaid again. After an automatic try the next one
    is at `retry_at` (None: no more); a `counted` try (declined) uses one of the retries left.
    The rider's own tries change neither. A debt no live rider owns any more (the account was
    erased while the try was under way) keeps no retry: see erasure.erase. `NOT EXISTS` a live
    owner, not "the owner is erased": updating after the erasure committed, the statement sees the
    debt's new owner, but not the pseudonym's row inserted after its snapshot."""
    record = await conn.fetchrow(
        f"""
        UPDATE ride_debts d SET status = 'unpaid', claimed_at = NULL,
            (retries_left, next_retry_at) = (
                SELECT CASE WHEN NOT live THEN 0
                            WHEN $4 THEN greatest(d.retries_left - 1, 0) ELSE d.retries_left END,
                       CASE WHEN NOT live THEN NULL WHEN $3 THEN $2 ELSE d.next_retry_at END
                FROM (SELECT EXISTS (SELECT 1 FROM users u WHERE u.id = d.user_id AND u.erased_at IS NULL)
                             AS live) o
            )
        WHERE d.id = $1 RETURNING {_COLUMNS}
        """,
        debt_id,
        retry_at,
        automatic,
        counted,
    )
    assert record is not None
    return _row(record)


async def unpaid_count(conn: Connection, user_id: str) -> int:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM ride_debts WHERE user_id = $1 AND status <> 'paid'", user_id
    )
    return count


async def reprice(conn: Connection, journey_id: str, amount: int) -> None:
    """A journey owed was priced again (a late tap-out, a repair): the debt is the new charge."""
    await conn.execute(
        "UPDATE ride_debts SET amount = $2 WHERE journey_id = $1 AND status = 'unpaid'", journey_id, amount
    )
