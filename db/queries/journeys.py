"""Journeys and the taps that opened gates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, NotRequired, TypedDict, cast

import orjson

from bayaffairs.storage import Connection, Record, returned
from bayaffairs.transit.model import (
    NO_PARTS,
    ChargeStatus,
    Direction,
    FareParts,
    JourneyStatus,
    ScanDecision,
    TapSource,
)

_COLUMNS = (
    "id, user_id, operator, category, status, entry_station, entry_at, exit_station, exit_at,"
    " fare_amount, fare_currency, fare_rule, charge_amount, charge_currency, fx_rate, fx_source,"
    " charge_status, created_at, product_spend, discounts, concession, transfer_discounts"
)


@dataclass(frozen=True)
class JourneyRow:
    id: str
    user_id: str
    operator: str
    category: str
    status: JourneyStatus
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
    charge_status: ChargeStatus
    created_at: datetime
    product_spend: int | None = None  # the fare before fare products, once they were priced in
    discounts: list[list[Any]] | None = None  # [[product, amount], ...] taken off by them
    concession: int = 0  # what the rider's category took off the full fare
    transfer_discounts: list[list[Any]] | None = None  # [[name, amount], ...] taken off after it
    refunds: tuple[RefundLine, ...] = ()  # filled by the rider's reads (list_for_user, get_for_user)
    repair_status: str | None = None  # ... and the status of its repair, if one was asked


@dataclass(frozen=True)
class RefundLine:
    """What the rider gets back of a journey's charge (0035_journey_lifecycle.sql)."""

    id: str
    journey_id: str
    amount: int  # in the charge's currency
    currency: str
    fare_amount: int  # the same in the fare's currency
    fare_currency: str
    reason: str
    status: str  # pending -> refunding -> refunded | failed; void: the charge never went through
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
    parts: FareParts = NO_PARTS  # how the fare came from the full fare
    # A through journey's {operator: weight} of its revenue (0040); None: all the journey's operator's
    share_weights: dict[str, int] | None = None


def _transfers_json(parts: FareParts) -> str | None:
    return orjson.dumps([list(t) for t in parts.transfers]).decode() if parts.transfers else None


def _row(record: Record) -> JourneyRow:
    values = dict(record)
    refunds = values.pop("refunds", None)
    if refunds:
        values["refunds"] = tuple(
            RefundLine(**{**r, "created_at": datetime.fromisoformat(r["created_at"])}) for r in refunds
        )
    return JourneyRow(**values)


# The rider's reads carry each journey's refund lines.
_WITH_REFUNDS = (
    _COLUMNS
    + """, (SELECT jsonb_agg(jsonb_build_object(
            'id', r.id, 'journey_id', r.journey_id, 'amount', r.amount, 'currency', r.currency,
            'fare_amount', r.fare_amount, 'fare_currency', r.fare_currency, 'reason', r.reason,
            'status', r.status, 'created_at', r.created_at) ORDER BY r.id)
        FROM journey_refunds r WHERE r.journey_id = journeys.id) AS refunds,
    (SELECT p.status FROM journey_repairs p WHERE p.journey_id = journeys.id AND p.status <> 'superseded')
        AS repair_status"""
)


class ScanItem(TypedDict):
    """One verified tap as record_scans() and the fixed tap-in statement take it (sent as JSON:
    plain values, times as RFC 3339 text)."""

    tap_id: str
    journey_id: str  # the id a journey this tap opens will get
    operator: str
    gate_id: str
    station: str
    direction: Direction
    code_key: str
    account: str  # the ride account token, hex
    credential: str | None  # a device credential's id, hex
    scanned_at: str
    source: TapSource
    tap_out: bool  # the operator's riders tap out
    orphan_exit: str  # what a tap-out without a tap-in gets
    double_tap: int  # seconds within which a tap-in-only rider's second tap at a stop is free
    riders: NotRequired[int]  # a group code's riders (one fare each); 1 when left out
    skew: int  # seconds two gates' clocks may be apart (an exit pairs with an entry up to this later)
    partners: NotRequired[list[str]]  # operators whose open journey a tap-out here completes (0040)
    late_days: NotRequired[int]  # a late tap-out completes a journey entered at most this long before (0043)
    wait_for_entry: NotRequired[bool]  # an uploaded exit without its entry waits (`wait`), not priced
    idx: NotRequired[int]  # position in the batch, set by the recorder
    # A tap-in priced before recording (its journey completes at once): {category: [amount, rule,
    # concession]} in `currency`, and {wallet currency: {category: [charge, rate, source]}}.
    fares: NotRequired[dict[str, tuple[int, str, int]]]
    currency: NotRequired[str]
    charges: NotRequired[dict[str, dict[str, tuple[int, str, str]]]]


class ScanRow(TypedDict):
    """What record_scans() decided for one item (its columns, db/functions/record_scans.sql)."""

    idx: int
    decision: ScanDecision
    reason: str | None
    journey_id: str | None
    journey_status: JourneyStatus | None
    user_id: str | None
    category: str | None
    wallet_currency: str | None
    entry_station: str | None
    entry_at: datetime | None
    previous_operator: str | None
    previous_ended_at: datetime | None
    fare_amount: int | None  # set when the journey was priced as it was written
    fare_currency: str | None
    fare_rule: str | None
    charge_amount: int | None
    charge_currency: str | None
    fx_rate: Decimal | None
    fx_source: str | None
    late: bool  # a tap-out that completed a journey already closed as unfinished (0035)
    journey_operator: NotRequired[str | None]  # the operator the journey entered at (0040)


def _scan_rows(records: Sequence[Record]) -> list[ScanRow]:
    return [cast(ScanRow, dict(r)) for r in records]  # the statement's columns are ScanRow's keys


async def record_scans(conn: Connection, items: Sequence[ScanItem]) -> list[ScanRow]:
    """Decide and record a batch of scans (see db/functions/record_scans.sql)."""
    # Sent as text: the pool's jsonb codec would encode a str a second time.
    records = await conn.fetch("SELECT * FROM record_scans($1::text::jsonb)", orjson.dumps(items).decode())
    return _scan_rows(records)


# Tap-ins that complete their journey at once, priced by the caller (`fares`, `charges`: see
# db/functions/record_scans.sql), decided and written set-wise: the same checks in
# the same order as record_scans(), without a statement per scan. Nothing in the batch may
# depend on another item's outcome except through the unique index on taps (the same code
# twice: the second is a replay; a code racing another transaction: ON CONFLICT waits for it).
_RECORD_FIXED_TAP_INS = """
WITH price_sets AS (
    SELECT p.ord::int - 1 AS price, p.v ->> 'currency' AS currency, p.v -> 'fares' AS fares,
           p.v -> 'charges' AS charges
    FROM jsonb_array_elements($2::text::jsonb) WITH ORDINALITY AS p(v, ord)
), it AS (
    SELECT x.*, decode(x.account, 'hex') AS acct, ps.fares, ps.currency, ps.charges
    -- each item an array of _FIXED_FIELDS' values, then its price set: a third less JSON to
    -- send and parse than objects naming every field
    FROM (SELECT (v ->> 0)::int AS idx, v ->> 1 AS tap_id, v ->> 2 AS journey_id, v ->> 3 AS operator,
                 v ->> 4 AS gate_id, v ->> 5 AS station, v ->> 6 AS direction, v ->> 7 AS code_key,
                 v ->> 8 AS account, v ->> 9 AS credential, (v ->> 10)::timestamptz AS scanned_at,
                 v ->> 11 AS source, (v ->> 12)::int AS double_tap, (v ->> 13)::int AS price
          FROM jsonb_array_elements($1::text::jsonb) AS v) AS x
    JOIN price_sets ps ON ps.price = x.price
), judged AS (
    SELECT it.*, a.uid, a.cat, a.wallet, dbl.id AS dbl,
        CASE
            WHEN a.uid IS NULL THEN 'denied_account'
            -- judged by the deny list and the credential as they stood at the scan (0028)
            WHEN r.why IS NOT NULL THEN r.why
            -- An uploaded replay is left to the insert below (ON CONFLICT on taps_code_once, then
            -- 'replayed'): the same outcome, one index search a tap fewer. Online, a replay is
            -- told before an unfinished journey, so it is looked up here.
            WHEN it.source = 'online' AND (
                SELECT true FROM taps t WHERE t.code_key = it.code_key AND t.direction = 'in' LIMIT 1)
                THEN 'replayed'
            -- an uploaded tap-in: the gate let the rider in (0041_uploaded_entries_in_scan_order.sql)
            WHEN it.source = 'online' AND (
                SELECT true FROM journeys x WHERE x.account_token = it.acct AND x.status = 'open' LIMIT 1)
                THEN 'unfinished_journey'
        END AS refused
    FROM it
    -- LATERAL ... LIMIT 1: index look-ups per item (the planner guesses 100 items and would
    -- rather hash whole tables).
    LEFT JOIN LATERAL (
        SELECT a.user_id AS uid, u.wallet_currency AS wallet,
               -- an uploaded tap: the rider's category at its scan (0053; record_scans() too)
               CASE WHEN it.source = 'online' THEN u.category
                    ELSE coalesce((SELECT c.category FROM user_categories c
                                   WHERE c.user_id = a.user_id AND c.since <= it.scanned_at
                                   ORDER BY c.since DESC LIMIT 1), u.category) END AS cat
        FROM ride_accounts a JOIN users u ON u.id = a.user_id
        -- as it stood at the scan (an erasure retires it; db/functions/record_scans.sql)
        WHERE a.account_token = it.acct AND (a.retired_at IS NULL OR a.retired_at > it.scanned_at) LIMIT 1
    ) a ON true
    -- an uploaded tap is not refused for a debt (0042_debtors_at_offline_gates.sql). tap_refusal()
    -- refuses only a device code's credential or an account the deny list names, so it is called
    -- for those alone: a call runs its sub-selects through PL/pgSQL (db/functions/tap_refusal.sql),
    -- ~20x the index probe that spares it (tests/transit/test_tap_refusal_guard.py)
    CROSS JOIN LATERAL (
        SELECT CASE WHEN it.credential IS NOT NULL OR EXISTS (
                   SELECT 1 FROM deny_list d WHERE d.kind = 'account' AND d.value = it.account)
               THEN tap_refusal(it.account, it.credential, it.scanned_at, it.source = 'online')
               END AS why
    ) r
    -- a double tap (0029_double_taps.sql): the journey this rider already paid at this stop.
    -- Ordered as journeys_rider_ended (user_id, coalesce(exit_at, entry_at) DESC) is, read backward
    -- (the same order: a journey without exit_station has no exit_at), so the index gives the
    -- first match of the window and no other (ordered by entry_at, it needed a sort, and an index
    -- only on user_id could cost as much: read and filter all of a long-time rider's journeys).
    LEFT JOIN LATERAL (
        SELECT x.id FROM journeys x
        WHERE it.double_tap > 0 AND x.user_id = a.uid AND x.status IN ('completed', 'repaired')
          AND coalesce(x.exit_at, x.entry_at)
              BETWEEN it.scanned_at - make_interval(secs => it.double_tap)
                  AND it.scanned_at + make_interval(secs => it.double_tap)
          AND x.operator = it.operator AND x.entry_station = it.station AND x.exit_station IS NULL
        ORDER BY coalesce(x.exit_at, x.entry_at) LIMIT 1
    ) dbl ON true
), priced AS (
    SELECT j.*, j.fares -> j.cat AS fare, j.charges -> j.wallet -> j.cat AS charge
    FROM judged j WHERE j.refused IS NULL
), tapped AS (
    INSERT INTO taps (tap_id, operator, gate_id, station, direction, code_key, account_token,
                      scanned_at, source, journey_id)
    SELECT tap_id, operator, gate_id, station, 'in', code_key, acct, scanned_at, source,
           coalesce(dbl, journey_id)
    FROM priced ORDER BY idx
    ON CONFLICT DO NOTHING
    RETURNING tap_id, journey_id  -- journey ids are the items' own (two items may share a tap id)
), written AS (
    INSERT INTO journeys (id, account_token, user_id, operator, category, status, entry_station,
                          entry_at, fare_amount, fare_currency, fare_rule, charge_amount,
                          charge_currency, fx_rate, fx_source, charge_status, concession)
    SELECT p.journey_id, p.acct, p.uid, p.operator, p.cat, 'completed', p.station, p.scanned_at,
           (p.fare ->> 0)::int, CASE WHEN p.fare IS NOT NULL THEN p.currency END, p.fare ->> 1,
           (p.charge ->> 0)::int, CASE WHEN p.charge IS NOT NULL THEN p.wallet END,
           (p.charge ->> 1)::numeric, p.charge ->> 2,
           CASE WHEN p.fare IS NULL THEN 'none' ELSE 'pending' END, coalesce((p.fare ->> 2)::int, 0)
    -- an array, not IN (SELECT ...): guessing one row a CTE, the planner joined the two in a
    -- nested loop that rescanned `tapped` for every item; searching an array is far cheaper
    FROM priced p WHERE p.dbl IS NULL AND p.journey_id = ANY (ARRAY(SELECT journey_id FROM tapped))
    RETURNING id
)
SELECT j.idx,
       CASE WHEN t.tap_id IS NULL THEN 'deny' ELSE 'open' END AS decision,
       CASE WHEN t.tap_id IS NULL THEN coalesce(j.refused, 'replayed')
            WHEN j.dbl IS NOT NULL THEN 'double_tap' END AS reason,
       CASE WHEN t.tap_id IS NOT NULL THEN coalesce(j.dbl, j.journey_id) END AS journey_id,
       CASE WHEN t.tap_id IS NOT NULL THEN 'completed' END AS journey_status,
       j.uid AS user_id, j.cat AS category, j.wallet AS wallet_currency,
       CASE WHEN t.tap_id IS NOT NULL THEN j.station END AS entry_station,
       CASE WHEN t.tap_id IS NOT NULL THEN j.scanned_at END AS entry_at,
       NULL::text AS previous_operator, NULL::timestamptz AS previous_ended_at,
       (p.fare ->> 0)::int AS fare_amount, CASE WHEN p.fare IS NOT NULL THEN p.currency END AS fare_currency,
       p.fare ->> 1 AS fare_rule, (p.charge ->> 0)::int AS charge_amount,
       CASE WHEN p.charge IS NOT NULL THEN p.wallet END AS charge_currency,
       (p.charge ->> 1)::numeric AS fx_rate, p.charge ->> 2 AS fx_source, false AS late
FROM judged j
LEFT JOIN tapped t ON t.tap_id = j.tap_id AND t.journey_id = coalesce(j.dbl, j.journey_id)
LEFT JOIN priced p ON p.journey_id = j.journey_id AND t.tap_id IS NOT NULL AND j.dbl IS NULL
ORDER BY j.idx
"""


# The values of an item, in the order _RECORD_FIXED_TAP_INS reads them (then its price set).
_FIXED_FIELDS = (
    "idx",
    "tap_id",
    "journey_id",
    "operator",
    "gate_id",
    "station",
    "direction",
    "code_key",
    "account",
    "credential",
    "scanned_at",
    "source",
    "double_tap",
)


async def record_fixed_tap_ins(conn: Connection, items: Sequence[ScanItem]) -> list[ScanRow]:
    """Decide and record a batch of tap-ins that each complete a journey priced by the caller,
    in one statement (every item has `fares`; see _RECORD_FIXED_TAP_INS).

    Fares and charges go once per distinct set (a batch at one operator's flat fare shares one):
    repeated in every item they were two thirds of the JSON the database parsed per tap."""
    sets: dict[tuple[str | None, int, int], int] = {}
    prices: list[dict[str, object]] = []
    rows: list[list[object]] = []
    for i in items:
        fares, currency, charges = i["fares"], i.get("currency"), i.get("charges")
        # fares and charges are shared by prepare() (items alive here: their ids are theirs)
        key = (currency, id(charges), id(fares))
        price = sets.get(key)
        if price is None:
            price = sets[key] = len(prices)
            prices.append({"currency": currency, "fares": fares, "charges": charges})
        row = [i.get(k) for k in _FIXED_FIELDS]
        row.append(price)
        rows.append(row)
    records = await conn.fetch(
        _RECORD_FIXED_TAP_INS, orjson.dumps(rows).decode(), orjson.dumps(prices).decode()
    )
    return _scan_rows(records)


async def set_prices(conn: Connection, prices: Sequence[Price]) -> None:
    if not prices:
        return
    await conn.execute(
        """
        UPDATE journeys j SET fare_amount = p.fare_amount, fare_currency = p.fare_currency,
            fare_rule = p.fare_rule, charge_amount = p.charge_amount, charge_currency = p.charge_currency,
            fx_rate = p.fx_rate, fx_source = p.fx_source,
            charge_status = CASE WHEN p.held THEN 'held' ELSE 'pending' END,
            concession = p.concession, transfer_discounts = p.transfers::jsonb,
            share_weights = p.share_weights::jsonb, updated_at = now()
        FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::int[], $6::text[],
                    $7::numeric[], $8::text[], $9::bool[], $10::int[], $11::text[], $12::text[])
             AS p(journey_id, fare_amount, fare_currency, fare_rule, charge_amount, charge_currency,
                  fx_rate, fx_source, held, concession, transfers, share_weights)
        WHERE j.id = p.journey_id AND j.charge_status NOT IN ('charging', 'charged')
          AND NOT EXISTS (SELECT 1 FROM charge_claims k WHERE k.journey_id = j.id)
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
        [p.parts.concession for p in prices],
        [_transfers_json(p.parts) for p in prices],
        [None if p.share_weights is None else orjson.dumps(p.share_weights).decode() for p in prices],
    )


async def set_concessions(conn: Connection, concessions: Sequence[tuple[str, int]]) -> None:
    """The concession of journeys written priced by record_scans() (their fares came with it)."""
    if concessions:
        await conn.execute(
            """
            UPDATE journeys j SET concession = c.concession
            FROM unnest($1::text[], $2::int[]) AS c(journey_id, concession) WHERE j.id = c.journey_id
            """,
            [journey_id for journey_id, _ in concessions],
            [concession for _, concession in concessions],
        )


async def list_for_user(
    conn: Connection, user_id: str, *, before: str | None, limit: int
) -> list[JourneyRow]:
    records = await conn.fetch(
        f"""
        SELECT {_WITH_REFUNDS} FROM journeys
        WHERE user_id = $1 AND ($2::text IS NULL OR id < $2)
        ORDER BY id DESC LIMIT $3
        """,
        user_id,
        before,
        limit,
    )
    return await with_claims(conn, [_row(r) for r in records])


async def get_for_user(
    conn: Connection, user_id: str, journey_id: str, *, lock: bool = False
) -> JourneyRow | None:
    record = await conn.fetchrow(
        f"SELECT {_WITH_REFUNDS} FROM journeys WHERE user_id = $1 AND id = $2"
        + (" FOR UPDATE OF journeys" if lock else ""),
        user_id,
        journey_id,
    )
    return (await with_claims(conn, [_row(record)]))[0] if record else None


async def get(conn: Connection, journey_id: str, *, lock: bool = False) -> JourneyRow | None:
    record = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM journeys WHERE id = $1" + (" FOR UPDATE" if lock else ""), journey_id
    )
    return (await with_claims(conn, [_row(record)]))[0] if record else None


async def get_many(conn: Connection, journey_ids: Sequence[str]) -> list[JourneyRow]:
    records = await conn.fetch(
        f"SELECT {_COLUMNS} FROM journeys WHERE id = ANY($1::text[])", list(journey_ids)
    )
    return await with_claims(conn, [_row(r) for r in records])


async def keep_failed(conn: Connection, journey_id: str) -> None:
    """A journey owed as a debt, priced again (set_prices made it pending): still owed."""
    await conn.execute("UPDATE journeys SET charge_status = 'failed' WHERE id = $1", journey_id)


async def set_share_weights(conn: Connection, journey_id: str, weights: dict[str, int] | None) -> None:
    """Whose lines a journey priced again used (None: all its own operator's)."""
    await conn.execute(
        "UPDATE journeys SET share_weights = $2::text::jsonb WHERE id = $1"
        " AND share_weights IS DISTINCT FROM $2::text::jsonb",
        journey_id,
        None if weights is None else orjson.dumps(weights).decode(),
    )


async def set_fare(
    conn: Connection, journey_id: str, fare_amount: int, rule: str, parts: FareParts = NO_PARTS
) -> None:
    """A new fare for a journey whose charge was already sent: the charge stays as made."""
    await conn.execute(
        """
        UPDATE journeys SET fare_amount = $2, fare_rule = $3, concession = $4,
            transfer_discounts = $5::text::jsonb, updated_at = now()
        WHERE id = $1
        """,
        journey_id,
        fare_amount,
        rule,
        parts.concession,
        _transfers_json(parts),
    )


async def insert_refund(conn: Connection, line: RefundLine, *, user_id: str) -> None:
    await conn.execute(
        """
        INSERT INTO journey_refunds (id, journey_id, user_id, amount, currency, fare_amount,
                                     fare_currency, reason, status, created_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
        """,
        line.id,
        line.journey_id,
        user_id,
        line.amount,
        line.currency,
        line.fare_amount,
        line.fare_currency,
        line.reason,
        line.status,
        line.created_at,
    )


@dataclass(frozen=True)
class RefundJob:
    id: str
    journey_id: str
    amount: int
    currency: str
    charge_reference: str | None  # the provider's reference of the journey's charge
    provider: str | None
    attempts: int = 0  # the line's claims so far, this one's included: which claim is this job's


async def claim_refunds(conn: Connection, limit: int, stale_seconds: int) -> list[RefundJob]:
    """Mark up to `limit` refunds whose journey's charge went through as refunding, and return
    them (and ones a dead worker left refunding for `stale_seconds`)."""
    records = await conn.fetch(
        """
        UPDATE journey_refunds r SET status = 'refunding', attempts = r.attempts + 1, updated_at = now()
        FROM journeys j JOIN users u ON u.id = j.user_id
        WHERE r.id IN (
            SELECT x.id FROM journey_refunds x JOIN journeys y ON y.id = x.journey_id
            WHERE y.charge_status = 'charged' AND (x.status = 'pending'
               OR (x.status = 'refunding' AND x.updated_at < now() - make_interval(secs => $2)))
            ORDER BY x.updated_at LIMIT $1 FOR UPDATE OF x SKIP LOCKED
        ) AND j.id = r.journey_id
        RETURNING r.id, r.journey_id, r.amount, r.currency, j.charge_reference,
                  u.wallet_provider AS provider, r.attempts
        """,
        limit,
        stale_seconds,
    )
    return [RefundJob(**dict(r)) for r in records]


async def finish_refunds(
    conn: Connection, outcomes: Sequence[tuple[str, str, str | None, int]], at: datetime
) -> None:
    """(refund id, status, the provider's reference, the job's `attempts`) of a batch, in one
    statement. `status`: refunded, failed, or pending (not answered: try again). Only claims
    still held are written; a line not answered goes back to pending only under this job's own
    claim: one another worker took over since (stale, while this call was under way) is that
    worker's, its call maybe in flight."""
    await conn.execute(
        """
        UPDATE journey_refunds r SET status = o.status,
            provider_reference = coalesce(o.reference, r.provider_reference),
            refunded_at = CASE WHEN o.status = 'refunded' THEN $4::timestamptz END, updated_at = now()
        FROM unnest($1::text[], $2::text[], $3::text[], $5::int[]) AS o(id, status, reference, attempts)
        WHERE r.id = o.id AND r.status = 'refunding' AND (o.status <> 'pending' OR r.attempts = o.attempts)
        """,
        [o[0] for o in outcomes],
        [o[1] for o in outcomes],
        [o[2] for o in outcomes],
        at,
        [o[3] for o in outcomes],
    )


async def net_of_refunds(conn: Connection, journey_ids: Sequence[str]) -> None:
    """Their charges were declined: their refund lines have nothing to give back (void), and
    what each owes is its charge less them."""
    await conn.execute(
        """
        WITH voided AS (
            UPDATE journey_refunds SET status = 'void', updated_at = now()
            WHERE journey_id = ANY($1::text[]) AND status = 'pending' RETURNING journey_id, amount
        ), owed AS (
            SELECT journey_id, sum(amount) AS amount FROM voided GROUP BY journey_id
        )
        UPDATE journeys j SET charge_amount = j.charge_amount - owed.amount
        FROM owed WHERE j.id = owed.journey_id
        """,
        list(journey_ids),
    )


async def open_for_user(conn: Connection, user_id: str) -> list[JourneyRow]:
    """Journeys still open (they may stop a new code for another city)."""
    records = await conn.fetch(
        f"SELECT {_COLUMNS} FROM journeys WHERE user_id = $1 AND status = 'open'", user_id
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
    return _row(returned(record))


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


async def overdue_open_of(
    conn: Connection, accounts: Sequence[bytes], cutoffs: dict[str, datetime]
) -> list[JourneyRow]:
    """The open journeys of these ride accounts entered before their operator's cutoff, locked
    (in account order, as record_scans() locks them)."""
    records = await conn.fetch(
        f"""
        SELECT {_COLUMNS} FROM journeys
        JOIN unnest($2::text[], $3::timestamptz[]) AS c(operator, cutoff) USING (operator)
        WHERE account_token = ANY($1::bytea[]) AND status = 'open' AND entry_at < c.cutoff
        ORDER BY account_token FOR UPDATE OF journeys
        """,
        list(accounts),
        list(cutoffs),
        list(cutoffs.values()),
    )
    return [_row(r) for r in records]


async def unpriced_unfinished(conn: Connection, operator: str, limit: int) -> list[JourneyRow]:
    """Journeys an uploaded entry closed as unfinished (0041), not priced yet."""
    records = await conn.fetch(
        f"""
        SELECT {_COLUMNS} FROM journeys
        WHERE status = 'unfinished' AND fare_amount IS NULL AND operator = $1
        ORDER BY entry_at LIMIT $2 FOR UPDATE SKIP LOCKED
        """,
        operator,
        limit,
    )
    return [_row(r) for r in records]


async def mark_unfinished(conn: Connection, journey_ids: Sequence[str]) -> None:
    await conn.execute(
        "UPDATE journeys SET status = 'unfinished', updated_at = now() WHERE id = ANY($1::text[])",
        list(journey_ids),
    )


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
    erased: bool  # the rider's account was erased: a pseudonym, linked to no wallet
    claimed_at: datetime | None = None  # the claim's own time: which claim is this job's


async def claim_charges(
    conn: Connection, limit: int, stale_seconds: int, hold_seconds: int, skip: Sequence[str] = ()
) -> list[ChargeJob]:
    """Claim up to `limit` charges that are due, and return them: pending ones, held ones older
    than `hold_seconds`, and ones whose claim a dead worker left for `stale_seconds`; none of
    `skip` (those the same run already asked for). A claim is a row of charge_claims (0056) made
    while the journey row is locked to the commit, not written: whatever prices the journey again
    waits for the lock and then finds the claim (`with_claims`). Two workers: one skips the rows
    the other locked, and a claim made since its snapshot is not taken over (the insert's
    conflict check sees it)."""
    records = await conn.fetch(
        """
        WITH due AS (
            SELECT j.id, j.user_id, j.operator, j.fare_amount, j.fare_currency, j.charge_amount,
                   j.charge_currency, j.updated_at
            FROM journeys j
            WHERE (j.charge_status = 'pending'
                   OR (j.charge_status = 'held' AND j.updated_at < now() - make_interval(secs => $3))
                   -- claimed by a worker of the code before 0056
                   OR (j.charge_status = 'charging' AND j.updated_at < now() - make_interval(secs => $2)))
              AND NOT j.id = ANY($4::text[])
              AND NOT EXISTS (SELECT 1 FROM charge_claims c WHERE c.journey_id = j.id
                              AND c.claimed_at >= now() - make_interval(secs => $2))
            ORDER BY j.updated_at LIMIT $1
            FOR NO KEY UPDATE OF j SKIP LOCKED
        ), claimed AS (
            INSERT INTO charge_claims AS c (journey_id) SELECT id FROM due
            ON CONFLICT (journey_id) DO UPDATE SET claimed_at = now()
                WHERE c.claimed_at < now() - make_interval(secs => $2)
            RETURNING c.journey_id, c.claimed_at
        )
        SELECT d.id AS journey_id, d.user_id, d.operator, d.fare_amount, d.fare_currency,
               d.charge_amount AS amount, d.charge_currency AS currency,
               u.wallet_currency, u.wallet_provider AS provider, u.erased_at IS NOT NULL AS erased,
               k.claimed_at
        FROM due d JOIN claimed k ON k.journey_id = d.id JOIN users u ON u.id = d.user_id
        ORDER BY d.updated_at, d.id
        """,
        limit,
        stale_seconds,
        hold_seconds,
        list(skip),
    )
    return [ChargeJob(**dict(r)) for r in records]


# A journey the charging job claimed: its row still says pending (or held, or charging if a
# worker of the code before 0056 claimed it), and a claim of it is held.
_CLAIMED = """
    j.charge_status IN ('pending', 'held', 'charging')
    AND EXISTS (SELECT 1 FROM charge_claims k WHERE k.journey_id = j.id)
"""


async def set_charge(
    conn: Connection,
    journey_id: str,
    *,
    fare: int,
    amount: int,
    currency: str,
    rate: Decimal,
    source: str,
) -> int | None:
    """The charge converted from `fare`, if that is still the claimed journey's fare: None.
    Else (repriced meanwhile) nothing is set and the fare it has now is returned, to convert."""
    status = await conn.execute(
        f"""
        UPDATE journeys j SET charge_amount = $2, charge_currency = $3, fx_rate = $4, fx_source = $5
        WHERE j.id = $1 AND j.fare_amount = $6 AND {_CLAIMED}
        """,
        journey_id,
        amount,
        currency,
        rate,
        source,
        fare,
    )
    if status == "UPDATE 1":
        return None
    now = await conn.fetchval("SELECT fare_amount FROM journeys WHERE id = $1", journey_id)
    return None if now is None else int(now)


async def _settle_claims(
    conn: Connection, status: str, outcomes: Sequence[tuple[str, str | None]]
) -> list[str]:
    """The claims of `outcomes` (journey id, provider's reference) deleted and their journeys
    set to `status` with the reference, in one statement: the one write of a journey a charge
    makes (its updated_at moves: settlement sees the outcome). A journey whose claim is gone (a
    worker that took over a stale claim recorded it first) is left as it is. The ids set."""
    records = await conn.fetch(
        """
        WITH done AS (
            DELETE FROM charge_claims k USING unnest($2::text[], $3::text[]) AS c(id, reference)
            WHERE k.journey_id = c.id
            RETURNING k.journey_id, c.reference
        )
        UPDATE journeys j SET charge_status = $1, charge_reference = done.reference,
                              charged_at = CASE WHEN $1 = 'charged' THEN now() END, updated_at = now()
        FROM done
        WHERE j.id = done.journey_id AND j.charge_status IN ('pending', 'held', 'charging')
        RETURNING j.id
        """,
        status,
        [journey_id for journey_id, _ in outcomes],
        [reference for _, reference in outcomes],
    )
    return [r["id"] for r in records]


async def finish_charges(conn: Connection, charged: Sequence[tuple[str, str | None]]) -> None:
    """Charges the providers took, (journey id, provider's reference) each: one statement for
    a round. A journey no longer claimed is left as it is."""
    await _settle_claims(conn, "charged", charged)


async def fail_charges(conn: Connection, declined: Sequence[tuple[str, str | None]]) -> list[str]:
    """Charges the providers declined, (journey id, provider's reference) each, in one
    statement; the ids of the journeys that were still claimed (now `failed`)."""
    return await _settle_claims(conn, "failed", declined)


async def release_charges(conn: Connection, claims: Sequence[tuple[str, datetime | None]]) -> None:
    """Put claimed charges back to pending (the provider did not answer), in one statement: their
    claims deleted, and their journeys behind the others due (updated_at moves, as the claim
    query orders by it), so that a provider's outage does not keep the job asking its riders'
    charges first while the others wait. The only write of a journey besides the outcome, and
    only for a charge not answered. `claims`: (journey id, the job's `claimed_at`) each; a claim
    another worker took over since (stale, while this worker's call was under way) is that
    worker's, its call maybe in flight: it is left, and so is its journey."""
    await conn.execute(
        """
        WITH gone AS (
            DELETE FROM charge_claims k USING unnest($1::text[], $2::timestamptz[]) AS c(id, claimed_at)
            WHERE k.journey_id = c.id AND k.claimed_at = c.claimed_at
            RETURNING k.journey_id
        )
        UPDATE journeys SET charge_status = 'pending', updated_at = now()
        WHERE id IN (SELECT journey_id FROM gone) AND charge_status IN ('pending', 'held', 'charging')
        """,
        [journey_id for journey_id, _ in claims],
        [claimed_at for _, claimed_at in claims],
    )


async def with_claims(conn: Connection, rows: list[JourneyRow]) -> list[JourneyRow]:
    """`rows` with the charge status the service goes by: `charging` while the charging job
    holds a claim on a pending or held journey (the claim does not write the journey: 0056). Read
    in a statement of its own after the rows: a caller that locked them sees every claim made
    before its lock (a claim holds the journey's lock until it commits)."""
    waiting = [r.id for r in rows if r.charge_status in ("pending", "held")]
    if not waiting:
        return rows
    records = await conn.fetch(
        "SELECT journey_id FROM charge_claims WHERE journey_id = ANY($1::text[])", waiting
    )
    claimed = {r["journey_id"] for r in records}
    return [replace(r, charge_status="charging") if r.id in claimed else r for r in rows]


class GateTap(TypedDict):
    """A tap as its gate's retry finds it again, with what the first answer was made of."""

    code_key: str
    station: str
    direction: Direction
    journey_id: str | None
    journey_status: JourneyStatus | None
    exit_station: str | None
    fare_amount: int | None
    fare_currency: str | None
    charge_amount: int | None
    charge_currency: str | None


async def gate_tap(conn: Connection, tap_id: str) -> GateTap | None:
    """The recorded tap with this id (an online scan's `taps.tap_id` made of its gate's tap id)."""
    record = await conn.fetchrow(
        """
        SELECT t.code_key, t.station, t.direction, t.journey_id, j.status AS journey_status,
               j.exit_station, j.fare_amount, j.fare_currency, j.charge_amount, j.charge_currency
        FROM taps t LEFT JOIN journeys j ON j.id = t.journey_id
        WHERE t.tap_id = $1
        """,
        tap_id,
    )
    return None if record is None else cast(GateTap, dict(record))


@dataclass(frozen=True)
class LaterLeg:
    """A journey that began soon after another of its rider's ended, with nothing in between:
    the other is its previous leg (as record_scans() finds it for a tap-out)."""

    journey: JourneyRow
    previous_operator: str
    previous_ended_at: datetime


async def later_legs(
    conn: Connection, journey_ids: Sequence[str], operators: Sequence[str], within: float
) -> list[LaterLeg]:
    """Priced journeys of `operators` without a transfer discount, entered at most `within`
    seconds after one of `journey_ids` ended and with no journey of the rider ending between;
    locked. Journeys whose fare products were priced in are left out (their spend is counted)."""
    records = await conn.fetch(
        f"""
        WITH s AS (
            SELECT id, user_id, operator, coalesce(exit_at, entry_at) AS ended FROM journeys
            WHERE id = ANY($1::text[]) AND status IN ('completed', 'repaired')
        )
        SELECT {", ".join(f"l.{c.strip()}" for c in _COLUMNS.split(","))},
               s.operator AS previous_operator, s.ended AS previous_ended_at
        FROM s JOIN journeys l ON l.user_id = s.user_id AND l.id <> s.id
        WHERE l.operator = ANY($2::text[]) AND l.status IN ('completed', 'repaired')
          AND l.fare_amount IS NOT NULL AND l.transfer_discounts IS NULL AND l.product_spend IS NULL
          AND l.entry_at >= s.ended AND l.entry_at <= s.ended + make_interval(secs => $3)
          AND NOT EXISTS (
              SELECT 1 FROM journeys x
              WHERE x.user_id = l.user_id AND x.status IN ('completed', 'repaired')
                AND x.id <> l.id AND x.id <> s.id
                AND coalesce(x.exit_at, x.entry_at) >= s.ended
                AND coalesce(x.exit_at, x.entry_at) <= l.entry_at)
        ORDER BY l.id
        FOR UPDATE OF l
        """,
        list(journey_ids),
        list(operators),
        within,
    )
    out = []
    for r in records:
        values = dict(r)
        previous = (values.pop("previous_operator"), values.pop("previous_ended_at"))
        out.append(LaterLeg(_row(values), *previous))  # type: ignore[arg-type]
    journeys = await with_claims(conn, [leg.journey for leg in out])
    return [replace(leg, journey=journey) for leg, journey in zip(out, journeys, strict=True)]
