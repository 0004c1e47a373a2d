"""Settlement lines: an open day's, read from journeys as they are now; a closed day's, as written
when it closed (0025_settlement_files.sql)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

import orjson

from bayaffairs.storage import Connection, Record

LineKind = Literal["journey", "credit", "reversal", "restatement"]
SettledStatus = Literal["charged", "failed", "pending"]

# A journey as a settlement line sees it, from `j` (an operator's journeys: `_SETTLED`). The one
# place that says what a journey's price parts and charge status are to settlement: base_fare -
# concession - discounts (transfers, then fare products) = fare (0038_fare_parts.sql); `share` is
# the operator's part of the fare (all of it, but for a through journey: 0040_through_journeys.sql).
_TRANSFERS_OFF = """
    CASE WHEN j.transfer_discounts IS NULL THEN 0
         ELSE (SELECT sum((d ->> 1)::int) FROM jsonb_array_elements(j.transfer_discounts) d) END
"""
_STATE = f"""
    j.id AS journey_id, j.status, j.category, j.entry_station, j.entry_at, j.exit_station, j.exit_at,
    coalesce(j.product_spend, j.fare_amount) + j.concession + {_TRANSFERS_OFF} AS base_fare,
    j.concession,
    coalesce(j.transfer_discounts, '[]'::jsonb) || coalesce(j.discounts, '[]'::jsonb) AS discounts,
    j.fare_amount AS fare,
    j.settled_share AS share, j.fare_currency AS currency,
    CASE j.charge_status WHEN 'charged' THEN 'charged' WHEN 'failed' THEN 'failed' ELSE 'pending' END
        AS charge_status,
    j.charge_amount AS rider_amount, j.charge_currency AS rider_currency, j.fx_rate
"""
# The columns compared to tell a journey changed since it was settled (every column of a line
# except where it sits in the file).
_COMPARED = (
    "status, category, entry_station, entry_at, exit_station, exit_at, base_fare, concession,"
    " discounts, fare, share, currency, charge_status, rider_amount, rider_currency, fx_rate"
)
_SETTLES_AT = "coalesce(j.exit_at, j.entry_at)"
# The journeys operator $1 settles, as `j`: its own, and the through journeys it has a share of
# (0040_through_journeys.sql), each with `settled_share`, the operator's part of the fare. A
# journey with share weights is settled by them alone, to each operator in them.
_OWN = """(
    SELECT j.*, j.fare_amount AS settled_share FROM journeys j
    WHERE j.operator = $1 AND j.share_weights IS NULL
) j"""
_SHARED = """(
    SELECT j.*, journey_share(j.fare_amount, j.share_weights, $1) AS settled_share FROM journeys j
    WHERE j.share_weights IS NOT NULL AND j.share_weights ? $1
) j"""
_SETTLED = f"""(
    SELECT * FROM {_OWN}
    UNION ALL
    SELECT * FROM {_SHARED}
) j"""
# For adjustments: those, and the journeys operator $1 settled before that it no longer settles
# (its share now nothing: a journey settled to the operator it entered, repaired or tapped out late
# onto a partner's lines alone), so its file takes back what it settled.
_LEFT = """(
    SELECT j.*, 0 AS settled_share FROM journeys j
    WHERE NOT (j.operator = $1 AND j.share_weights IS NULL)
      AND NOT coalesce(j.share_weights ? $1, false)
      AND EXISTS (SELECT 1 FROM settlement_lines l WHERE l.journey_id = j.id AND l.operator = $1)
) j"""
_SETTLED_OR_LEFT = f"""(
    SELECT * FROM {_SETTLED}
    UNION ALL
    SELECT * FROM {_LEFT}
) j"""
# Statements over a whole day (a million journeys) run longer than the pool's command_timeout,
# which is sized for requests; closing and totalling a day are batch work.
BATCH_TIMEOUT = 3600.0
LINE_COLUMNS = (
    "kind, journey_id, original_date, status, category, entry_station, entry_at, exit_station,"
    " exit_at, base_fare, concession, discounts, fare, share, currency, charge_status, rider_amount,"
    " rider_currency, fx_rate"
)


@dataclass(frozen=True)
class Line:
    kind: LineKind
    journey_id: str
    original_date: date
    status: str
    category: str
    entry_station: str | None
    entry_at: datetime | None
    exit_station: str | None
    exit_at: datetime | None
    base_fare: int
    concession: int
    discounts: tuple[tuple[str, int], ...]
    fare: int
    share: int
    currency: str
    charge_status: SettledStatus
    rider_amount: int | None
    rider_currency: str | None
    fx_rate: Decimal | None

    def reversed(self) -> Line:
        """The line that takes this one back out of the totals."""
        return replace(
            self,
            kind="reversal",
            base_fare=-self.base_fare,
            concession=-self.concession,
            discounts=tuple((product, -amount) for product, amount in self.discounts),
            fare=-self.fare,
            share=-self.share,
            rider_amount=None if self.rider_amount is None else -self.rider_amount,
        )


def _discounts(raw: Any) -> tuple[tuple[str, int], ...]:
    value = orjson.loads(raw) if isinstance(raw, str | bytes) else raw
    return tuple((str(product), int(amount)) for product, amount in value or ())


def _line(record: Record, kind: LineKind | None = None, original_date: date | None = None) -> Line:
    return Line(
        kind=kind or record["kind"],
        journey_id=record["journey_id"],
        original_date=original_date or record["original_date"],
        status=record["status"],
        category=record["category"],
        entry_station=record["entry_station"],
        entry_at=record["entry_at"],
        exit_station=record["exit_station"],
        exit_at=record["exit_at"],
        base_fare=record["base_fare"],
        concession=record["concession"],
        discounts=_discounts(record["discounts"]),
        fare=record["fare"],
        share=record["share"],
        currency=record["currency"],
        charge_status=record["charge_status"],
        rider_amount=record["rider_amount"],
        rider_currency=record["rider_currency"],
        fx_rate=record["fx_rate"],
    )


def _settled_line(record: Record) -> Line:
    return Line(
        kind="journey",
        journey_id=record["journey_id"],
        original_date=record["s_original_date"],
        **{c.strip(): record[f"s_{c.strip()}"] for c in _COMPARED.split(",") if c.strip() != "discounts"},
        discounts=_discounts(record["s_discounts"]),
    )


@dataclass(frozen=True)
class ClosedDay:
    operator: str
    day: date
    currency: str
    closed_at: datetime
    closed_db_at: datetime
    checksum: str
    lines: int
    adjustments: int
    totals: dict[str, Any]


@dataclass(frozen=True)
class Change:
    """A journey that reached settlement after its day closed, or changed after it was settled:
    `settled` is its last settled state (None: never settled), `now` what it is now."""

    settled: Line | None
    now: Line


async def lock_operator(conn: Connection, operator: str) -> None:
    """One close per operator at a time (held to the end of the transaction)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('settlement:' || $1, 0))", operator)


async def closed_day(conn: Connection, operator: str, day: date) -> ClosedDay | None:
    record = await conn.fetchrow(
        "SELECT * FROM settlement_days WHERE operator = $1 AND day = $2", operator, day
    )
    return None if record is None else ClosedDay(**dict(record))


async def last_closed(conn: Connection, operator: str) -> ClosedDay | None:
    record = await conn.fetchrow(
        "SELECT * FROM settlement_days WHERE operator = $1 ORDER BY day DESC LIMIT 1", operator
    )
    return None if record is None else ClosedDay(**dict(record))


async def first_settles_at(conn: Connection, operator: str) -> datetime | None:
    """When the operator's earliest priced journey settles (its exit, else its entry)."""
    value: datetime | None = await conn.fetchval(
        f"SELECT min({_SETTLES_AT}) FROM {_SETTLED} WHERE j.fare_amount IS NOT NULL",
        operator,
    )
    return value


_DAY_WHERE = f"""
    WHERE j.fare_amount IS NOT NULL
      AND {_SETTLES_AT} >= $2 AND {_SETTLES_AT} < $3
      AND NOT EXISTS (SELECT 1 FROM settlement_lines l WHERE l.journey_id = j.id AND l.operator = $1)
"""
_DAY_JOURNEYS = f"FROM {_SETTLED} {_DAY_WHERE}"


# A page of the day's journeys: the first, and one after a keyset. Two statements, not one with
# "($4 IS NULL OR (settles_at, id) > ...)": a prepared statement's generic plan cannot drop the
# NULL branch, so the keyset would be a filter over every journey since the day's start instead
# of where the index scan begins (tests/transit/test_settlement_queries.py).
# The operator's own journeys and its shares of through journeys are paged apart, each an index
# range in file order, then merged: over their union PostgreSQL sorts the rest of the day.
_DAY_PART = f"""(
    SELECT {_STATE}, {_SETTLES_AT} AS settles_at
    FROM {{source}} {_DAY_WHERE}
    {{after}}
    ORDER BY {_SETTLES_AT}, j.id
    LIMIT $4
)"""
_OWN_PART, _SHARED_PART = (_DAY_PART.replace("{source}", source) for source in (_OWN, _SHARED))
_DAY_PAGE = f"""
    SELECT * FROM ({_OWN_PART} UNION ALL {_SHARED_PART}) page
    ORDER BY settles_at, journey_id
    LIMIT $4
"""
_DAY_FIRST_PAGE = _DAY_PAGE.format(after="")
_DAY_NEXT_PAGE = _DAY_PAGE.format(after=f"AND ({_SETTLES_AT}, j.id) > ($5::timestamptz, $6::text)")


async def day_journeys(
    conn: Connection,
    operator: str,
    day: date,
    start: datetime,
    end: datetime,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[tuple[datetime, Line]]:
    """A page of the journeys settling in [start, end) not settled yet, in file order (when they
    settle, then id), after the keyset `after`; each with when it settles (the next keyset)."""
    if after is None:
        records = await conn.fetch(_DAY_FIRST_PAGE, operator, start, end, limit)
    else:
        records = await conn.fetch(_DAY_NEXT_PAGE, operator, start, end, limit, after[0], after[1])
    return [(r["settles_at"], _line(r, "journey", day)) for r in records]


async def day_journey_totals(conn: Connection, operator: str, start: datetime, end: datetime) -> list[Record]:
    """Totals of those journeys (see `totals_of_closed`)."""
    return list(
        await conn.fetch(
            f"""
            WITH lines AS (SELECT {_STATE} {_DAY_JOURNEYS})
            {_TOTALS}
            """,
            operator,
            start,
            end,
            timeout=BATCH_TIMEOUT,
        )
    )


async def insert_day_journeys(
    conn: Connection, operator: str, day: date, start: datetime, end: datetime
) -> int:
    """Write the day's journey lines, numbered from 1 in file order; how many."""
    status = await conn.execute(
        f"""
        INSERT INTO settlement_lines (operator, day, seq, kind, original_date, journey_id, {_COMPARED})
        SELECT $1, $4, row_number() OVER (ORDER BY {_SETTLES_AT}, j.id), 'journey', $4, {_STATE}
        {_DAY_JOURNEYS}
        """,
        operator,
        start,
        end,
        day,
        timeout=BATCH_TIMEOUT,
    )
    return int(status.split()[-1])


async def changes(
    conn: Connection, operator: str, zone: str, since: datetime | None, before: datetime
) -> list[Change]:
    """Journeys changed since `since` (the database's time) that a day closing now must adjust:
    settled ones whose state differs from what was settled, and ones never settled that belong
    to a day before `before`. In file order: the original day, then the journey id."""
    records = await conn.fetch(
        f"""
        WITH now AS (
            SELECT {_STATE}, {_SETTLES_AT} AS settles_at,
                   ({_SETTLES_AT} AT TIME ZONE $2)::date AS journey_date
            FROM {_SETTLED_OR_LEFT}
            WHERE j.fare_amount IS NOT NULL
              AND ($3::timestamptz IS NULL OR j.updated_at >= $3)
        )
        SELECT now.*, {", ".join(f"s.{c.strip()} AS s_{c.strip()}" for c in _COMPARED.split(","))},
               s.original_date AS s_original_date, s.journey_id IS NOT NULL AS was_settled
        FROM now
        LEFT JOIN LATERAL (
            SELECT * FROM settlement_lines l
            WHERE l.journey_id = now.journey_id AND l.operator = $1 AND l.kind <> 'reversal'
            ORDER BY l.day DESC, l.seq DESC LIMIT 1
        ) s ON true
        WHERE CASE WHEN s.journey_id IS NULL THEN now.settles_at < $4
                   ELSE ({", ".join(f"now.{c.strip()}" for c in _COMPARED.split(","))})
                        IS DISTINCT FROM ({", ".join(f"s.{c.strip()}" for c in _COMPARED.split(","))})
              END
        ORDER BY coalesce(s.original_date, now.journey_date), now.journey_id
        """,
        operator,
        zone,
        since,
        before,
        timeout=BATCH_TIMEOUT,
    )
    out = []
    for r in records:
        settled = _settled_line(r) if r["was_settled"] else None
        original = settled.original_date if settled else r["journey_date"]
        out.append(Change(settled, _line(r, "restatement", original)))
    return out


async def insert_lines(
    conn: Connection, operator: str, day: date, first_seq: int, lines: Sequence[Line]
) -> None:
    await conn.executemany(
        f"""
        INSERT INTO settlement_lines (operator, day, seq, {LINE_COLUMNS})
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15::text::jsonb, $16, $17,
                $18, $19, $20, $21, $22)
        """,
        [
            (
                operator,
                day,
                first_seq + n,
                line.kind,
                line.journey_id,
                line.original_date,
                line.status,
                line.category,
                line.entry_station,
                line.entry_at,
                line.exit_station,
                line.exit_at,
                line.base_fare,
                line.concession,
                orjson.dumps([list(d) for d in line.discounts]).decode(),
                line.fare,
                line.share,
                line.currency,
                line.charge_status,
                line.rider_amount,
                line.rider_currency,
                line.fx_rate,
            )
            for n, line in enumerate(lines)
        ],
    )


# Per currency and charge status: the lines and their amounts in the operator's currency
# (group 'fare'), and what riders were charged in their own (group 'rider').
_TOTALS = """
    SELECT 'fare' AS grp, currency, charge_status, count(*) AS lines, sum(base_fare) AS base_fare,
           sum(concession) AS concession, sum(fare) AS fare, sum(share) AS share, NULL::bigint AS amount
    FROM lines GROUP BY currency, charge_status
    UNION ALL
    SELECT 'rider', rider_currency, charge_status, count(*), NULL, NULL, NULL, NULL, sum(rider_amount)
    FROM lines WHERE rider_currency IS NOT NULL GROUP BY rider_currency, charge_status
"""


async def totals_of_closed(conn: Connection, operator: str, day: date) -> list[Record]:
    return list(
        await conn.fetch(
            f"""
            WITH lines AS (SELECT * FROM settlement_lines WHERE operator = $1 AND day = $2)
            {_TOTALS}
            """,
            operator,
            day,
            timeout=BATCH_TIMEOUT,
        )
    )


async def closed_lines(
    conn: Connection, operator: str, day: date, after_seq: int, limit: int
) -> list[tuple[int, Line]]:
    records = await conn.fetch(
        f"""
        SELECT seq, {LINE_COLUMNS} FROM settlement_lines
        WHERE operator = $1 AND day = $2 AND seq > $3
        ORDER BY seq LIMIT $4
        """,
        operator,
        day,
        after_seq,
        limit,
    )
    return [(r["seq"], _line(r)) for r in records]


async def insert_day(
    conn: Connection,
    operator: str,
    day: date,
    currency: str,
    closed_at: datetime,
    checksum: str,
    lines: int,
    adjustments: int,
    totals: dict[str, Any],
) -> ClosedDay:
    record = await conn.fetchrow(
        """
        INSERT INTO settlement_days (operator, day, currency, closed_at, checksum, lines, adjustments, totals)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text::jsonb)
        RETURNING *
        """,
        operator,
        day,
        currency,
        closed_at,
        checksum,
        lines,
        adjustments,
        orjson.dumps(totals).decode(),
    )
    assert record is not None
    return ClosedDay(**dict(record))


# -- fare subsidy credits (kind 'credit': a rider's month under a monthly subsidy) -----------------

# The journeys without share weights and the through journeys apart, each a range of the index
# settlement reads it by (journeys_settlement_own, journeys_through_settlement: 0055).
_MONTH_OF = f"""
    SELECT j.user_id, j.operator, coalesce(j.product_spend, j.fare_amount) AS spend FROM journeys j
    WHERE j.operator = ANY($1::text[]) AND j.fare_amount IS NOT NULL
      AND {_SETTLES_AT} >= $2 AND {_SETTLES_AT} < $3
      {{riders}}"""
_MONTH_SPENDS = f"""
    SELECT j.user_id, j.operator, sum(j.spend)::bigint AS spend
    FROM ({_MONTH_OF} AND j.share_weights IS NULL
          UNION ALL {_MONTH_OF} AND j.share_weights IS NOT NULL) j
    GROUP BY j.user_id, j.operator
    ORDER BY j.user_id, j.operator
"""


async def month_spends(
    conn: Connection,
    operators: Sequence[str],
    start: datetime,
    end: datetime,
    users: Sequence[str] | None = None,
) -> list[tuple[str, str, int]]:
    """(rider, operator, spend) of priced journeys settling in [start, end): every rider's, or
    those of `users`."""
    if users is None:
        records = await conn.fetch(
            _MONTH_SPENDS.format(riders=""), list(operators), start, end, timeout=BATCH_TIMEOUT
        )
    else:
        records = await conn.fetch(
            _MONTH_SPENDS.format(riders="AND j.user_id = ANY($4::text[])"),
            list(operators),
            start,
            end,
            list(users),
            timeout=BATCH_TIMEOUT,
        )
    return [(r["user_id"], r["operator"], int(r["spend"])) for r in records]


async def changed_rider_months(
    conn: Connection, operators: Sequence[str], zone: str, since: datetime, before: datetime
) -> list[tuple[str, date]]:
    """(rider, first day of the month in `zone`) of journeys changed since `since` (the
    database's time) that settle before `before`."""
    records = await conn.fetch(
        f"""
        SELECT DISTINCT j.user_id, date_trunc('month', {_SETTLES_AT} AT TIME ZONE $2)::date AS month
        FROM journeys j
        WHERE j.operator = ANY($1::text[]) AND j.fare_amount IS NOT NULL AND j.updated_at >= $3
          AND {_SETTLES_AT} < $4
        ORDER BY 2, 1
        """,
        list(operators),
        zone,
        since,
        before,
        timeout=BATCH_TIMEOUT,
    )
    return [(r["user_id"], r["month"]) for r in records]


async def settled_lines(conn: Connection, operator: str, references: Sequence[str]) -> dict[str, Line]:
    """The last settled (not reversed) line of each of `references` in the operator's files."""
    records = await conn.fetch(
        f"""
        SELECT DISTINCT ON (journey_id) {LINE_COLUMNS} FROM settlement_lines
        WHERE journey_id = ANY($1::text[]) AND operator = $2 AND kind <> 'reversal'
        ORDER BY journey_id, day DESC, seq DESC
        """,
        list(references),
        operator,
    )
    return {r["journey_id"]: _line(r) for r in records}
