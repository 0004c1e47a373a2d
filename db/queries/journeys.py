"""Journeys and the taps that opened gates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson

from bayaffairs.storage import Connection

_COLUMNS = (
    "id, user_id, operator, category, status, entry_station, entry_at, exit_station, exit_at,"
    " fare_amount, fare_currency, fare_rule, charge_amount, charge_currency, fx_rate, fx_source,"
    " charge_status, created_at"
)


@dataclass(frozen=True)
class JourneyRow:
    id: str
    user_id: str
    operator: str
    category: str
    status: str
    entry_station: str | None
    entry_at: datetime | None
    exit_station: str | None
    exit_at: datetime | None
    fare_amount: int | None
    fare_currency: str | None
    fare_rule: str | None
    charge_amount: int | None
    charge_currency: str | None
    fx_rate: Decimal | None
    fx_source: str | None
    charge_status: str
    created_at: datetime


@dataclass(frozen=True)
class Price:
    journey_id: str
    fare_amount: int
    fare_currency: str
    fare_rule: str
    charge_amount: int | None
    charge_currency: str | None
    fx_rate: Decimal | None
    fx_source: str | None
    held: bool = False  # charge only after the rider had time to repair (unfinished journeys)


def _row(record: Any) -> JourneyRow:
    return JourneyRow(**dict(record))


async def record_scans(conn: Connection, items: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Decide and record a batch of scans (see record_scans() in 0003_transit.sql)."""
    # Sent as text: the pool's jsonb codec would encode a str a second time.
    records = await conn.fetch("SELECT * FROM record_scans($1::text::jsonb)", orjson.dumps(items).decode())
    return [dict(r) for r in records]


async def set_prices(conn: Connection, prices: Sequence[Price]) -> None:
    if not prices:
        return
    await conn.execute(
        """
        UPDATE journeys j SET fare_amount = p.fare_amount, fare_currency = p.fare_currency,
            fare_rule = p.fare_rule, charge_amount = p.charge_amount, charge_currency = p.charge_currency,
            fx_rate = p.fx_rate, fx_source = p.fx_source,
            charge_status = CASE WHEN p.held THEN 'held' ELSE 'pending' END,
            updated_at = now()
        FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::int[], $6::text[],
                    $7::numeric[], $8::text[], $9::bool[])
             AS p(journey_id, fare_amount, fare_currency, fare_rule, charge_amount, charge_currency,
                  fx_rate, fx_source, held)
        WHERE j.id = p.journey_id AND j.charge_status NOT IN ('charging', 'charged')
        """,
        [p.journey_id for p in prices],
        [p.fare_amount for p in prices],
        [p.fare_currency for p in prices],
        [p.fare_rule for p in prices],
        [p.charge_amount for p in prices],
        [p.charge_currency for p in prices],
        [p.fx_rate for p in prices],
        [p.fx_source for p in prices],
        [p.held for p in prices],
    )


async def list_for_user(
    conn: Connection, user_id: str, *, before: str | None, limit: int
) -> list[JourneyRow]:
    records = await conn.fetch(
        f"""
        SELECT {_COLUMNS} FROM journeys
        WHERE user_id = $1 AND ($2::text IS NULL OR id < $2)
        ORDER BY id DESC LIMIT $3
        """,
        user_id,
        before,
        limit,
    )
    return [_row(r) for r in records]


async def get_for_user(
    conn: Connection, user_id: str, journey_id: str, *, lock: bool = False
) -> JourneyRow | None:
    record = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM journeys WHERE user_id = $1 AND id = $2" + (" FOR UPDATE" if lock else ""),
        user_id,
        journey_id,
    )
    return _row(record) if record else None


async def blocking(conn: Connection, user_id: str) -> list[JourneyRow]:
    """Journeys that may stop a new code: open ones and unfinished ones."""
    records = await conn.fetch(
        f"SELECT {_COLUMNS} FROM journeys WHERE user_id = $1 AND status IN ('open', 'unfinished')",
        user_id,
    )
    return [_row(r) for r in records]


async def close_repaired(conn: Connection, journey_id: str, *, exit_station: str) -> JourneyRow:
    """The exit time stays unknown: the journey settles on its entry day, as it did."""
    record = await conn.fetchrow(
        f"""
        UPDATE journeys SET status = 'repaired', exit_station = $2, updated_at = now()
        WHERE id = $1 RETURNING {_COLUMNS}
        """,
        journey_id,
        exit_station,
    )
    return _row(record)


async def overdue_open(
    conn: Connection, operator: str, entered_before: datetime, limit: int
) -> list[JourneyRow]:
    records = await conn.fetch(
        f"""
        SELECT {_COLUMNS} FROM journeys
        WHERE status = 'open' AND operator = $1 AND entry_at < $2
        ORDER BY entry_at LIMIT $3 FOR UPDATE SKIP LOCKED
        """,
        operator,
        entered_before,
        limit,
    )
    return [_row(r) for r in records]


async def mark_unfinished(conn: Connection, journey_ids: Sequence[str]) -> None:
    await conn.execute(
        "UPDATE journeys SET status = 'unfinished', updated_at = now() WHERE id = ANY($1::text[])",
        list(journey_ids),
    )


async def settled_between(
    conn: Connection, operator: str, start: datetime, end: datetime
) -> list[JourneyRow]:
    """Priced journeys of an operator whose settlement time (exit, else entry) is in [start, end)."""
    records = await conn.fetch(
        f"""
        SELECT {_COLUMNS} FROM journeys
        WHERE operator = $1 AND fare_amount IS NOT NULL
          AND coalesce(exit_at, entry_at) >= $2 AND coalesce(exit_at, entry_at) < $3
        ORDER BY coalesce(exit_at, entry_at), id
        """,
        operator,
        start,
        end,
    )
    return [_row(r) for r in records]


@dataclass(frozen=True)
class ChargeJob:
    journey_id: str
    user_id: str
    operator: str
    fare_amount: int
    fare_currency: str
    amount: int | None  # None: priced while no rate was available; convert first
    currency: str | None
    wallet_currency: str | None
    provider: str | None


async def claim_charges(
    conn: Connection, limit: int, stale_seconds: int, hold_seconds: int
) -> list[ChargeJob]:
    """Mark up to `limit` charges that are due as charging, and return them: pending ones, held ones
    older than `hold_seconds`, and ones left charging by a dead worker for `stale_seconds`."""
    records = await conn.fetch(
        """
        UPDATE journeys j SET charge_status = 'charging', updated_at = now()
        FROM users u
        WHERE j.id IN (
            SELECT id FROM journeys
            WHERE charge_status = 'pending'
               OR (charge_status = 'held' AND updated_at < now() - make_interval(secs => $3))
               OR (charge_status = 'charging' AND updated_at < now() - make_interval(secs => $2))
            ORDER BY updated_at LIMIT $1 FOR UPDATE SKIP LOCKED
        ) AND u.id = j.user_id
        RETURNING j.id AS journey_id, j.user_id, j.operator, j.fare_amount, j.fare_currency,
                  j.charge_amount AS amount, j.charge_currency AS currency,
                  u.wallet_currency, u.wallet_provider AS provider
        """,
        limit,
        stale_seconds,
        hold_seconds,
    )
    return [ChargeJob(**dict(r)) for r in records]


async def set_charge(
    conn: Connection, journey_id: str, *, amount: int, currency: str, rate: Decimal, source: str
) -> None:
    await conn.execute(
        """
        UPDATE journeys SET charge_amount = $2, charge_currency = $3, fx_rate = $4, fx_source = $5
        WHERE id = $1 AND charge_status = 'charging'
        """,
        journey_id,
        amount,
        currency,
        rate,
        source,
    )


async def finish_charge(conn: Connection, journey_id: str, *, charged: bool, reference: str | None) -> None:
    await conn.execute(
        """
        UPDATE journeys SET charge_status = $2, charge_reference = $3,
                            charged_at = CASE WHEN $2 = 'charged' THEN now() END, updated_at = now()
        WHERE id = $1 AND charge_status = 'charging'
        """,
        journey_id,
        "charged" if charged else "failed",
        reference,
    )


async def release_charge(conn: Connection, journey_id: str) -> None:
    """Put a claimed charge back to pending (the provider did not answer)."""
    await conn.execute(
        "UPDATE journeys SET charge_status = 'pending' WHERE id = $1 AND charge_status = 'charging'",
        journey_id,
    )
