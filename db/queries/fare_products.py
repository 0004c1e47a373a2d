"""Fare products: a rider's month of spend, and the discounts priced into journeys
(0027_fare_products.sql)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import orjson

from bayaffairs.storage import Connection

_SETTLES_AT = "coalesce(exit_at, entry_at)"


@dataclass(frozen=True)
class ProductJourney:
    user_id: str
    fare_amount: int | None
    fare_currency: str
    charge_currency: str | None
    fx_rate: Decimal | None
    settles_at: datetime
    product_spend: int | None  # set once its fare products were priced in


async def journey_for_products(conn: Connection, journey_id: str) -> ProductJourney | None:
    record = await conn.fetchrow(
        f"""
        SELECT user_id, fare_amount, fare_currency, charge_currency, fx_rate,
               {_SETTLES_AT} AS settles_at, product_spend
        FROM journeys WHERE id = $1 FOR UPDATE
        """,
        journey_id,
    )
    return None if record is None else ProductJourney(**dict(record))


async def lock_rider_product(conn: Connection, user_id: str, product: str) -> None:
    """One journey at a time per rider and product is priced against the month's spend."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('fare_product:' || $1 || ':' || $2, 0))",
        user_id,
        product,
    )


async def spend(
    conn: Connection,
    user_id: str,
    operators: Sequence[str],
    start: datetime,
    end: datetime,
    excluding: str,
) -> int:
    """The month's spend so far: journeys whose products were priced already, but `excluding`
    (the journey being priced: it counts when priced again)."""
    value = await conn.fetchval(
        f"""
        SELECT coalesce(sum(product_spend), 0) FROM journeys
        WHERE user_id = $1 AND operator = ANY($2::text[]) AND product_spend IS NOT NULL
          AND {_SETTLES_AT} >= $3 AND {_SETTLES_AT} < $4 AND id <> $5
        """,
        user_id,
        list(operators),
        start,
        end,
        excluding,
    )
    return int(value)


async def set_products(
    conn: Connection,
    journey_id: str,
    *,
    spend: int,
    discounts: Sequence[tuple[str, int]],
    fare: int,
    charge: int | None,
) -> None:
    await conn.execute(
        """
        UPDATE journeys SET product_spend = $2, discounts = $3::text::jsonb, fare_amount = $4,
            charge_amount = coalesce($5, charge_amount), updated_at = now()
        WHERE id = $1
        """,
        journey_id,
        spend,
        orjson.dumps([list(d) for d in discounts]).decode(),
        fare,
        charge,
    )


async def set_product_lines(
    conn: Connection, journey_id: str, *, spend: int, discounts: Sequence[tuple[str, int]]
) -> None:
    """A repriced journey's spend and discounts (its fare and charge are the caller's)."""
    await conn.execute(
        """
        UPDATE journeys SET product_spend = $2, discounts = $3::text::jsonb, updated_at = now()
        WHERE id = $1
        """,
        journey_id,
        spend,
        orjson.dumps([list(d) for d in discounts]).decode(),
    )


async def month(
    conn: Connection, user_id: str, operators: Sequence[str], product: str, start: datetime, end: datetime
) -> tuple[int, int, int]:
    """(journeys, spend, discount taken under `product`) of the rider's priced journeys in [start, end)."""
    record = await conn.fetchrow(
        f"""
        SELECT count(*) AS journeys, coalesce(sum(coalesce(product_spend, fare_amount)), 0) AS spent,
               coalesce(sum((SELECT sum((d->>1)::int) FROM jsonb_array_elements(discounts) d
                             WHERE d->>0 = $3)), 0) AS discount
        FROM journeys
        WHERE user_id = $1 AND operator = ANY($2::text[]) AND fare_amount IS NOT NULL
          AND {_SETTLES_AT} >= $4 AND {_SETTLES_AT} < $5
        """,
        user_id,
        list(operators),
        product,
        start,
        end,
    )
    assert record is not None
    return int(record["journeys"]), int(record["spent"]), int(record["discount"])
