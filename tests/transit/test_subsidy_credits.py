"""Hong Kong's fare subsidy in the operators' settlement files: a rider's month earns a credit
(a third of the spend above HK$500, up to HK$400), settled as `credit` lines in the file of the
first day after the month, each operator's part in its own file by its share of the spend; what
changes the month after that day closed is an adjustment of the next day to close."""

from __future__ import annotations

import hashlib
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from bayaffairs.db.queries import settlements as settlements_q
from bayaffairs.db.queries.settlements import Line
from tests.transit.conftest import Ride
from tests.transit.test_fare_products import add_journey
from tests.transit.test_settlement_properties import check_lines_sum_to_totals

HONG_KONG = ZoneInfo("Asia/Hong_Kong")
PRODUCT = "hk_fare_subsidy"


def months(ride: Ride) -> tuple[datetime, date]:
    """10:00 on the first day of the clock's next month (the subsidy's month), and the first
    day of the month after it (the day its credits are settled in)."""
    today = ride.clock.today(HONG_KONG)
    first = (today.replace(day=28) + timedelta(days=4)).replace(day=1)
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return datetime.combine(first, time(10), HONG_KONG), following


def closed_by(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(4), HONG_KONG)


async def csv_of(ride: Ride, operator: str, day: date) -> bytes:
    return b"".join([c async for c in ride.services.transit.settlements.csv(operator, day)])


async def lines_of(ride: Ride, operator: str, day: date) -> list[Line]:
    page = await ride.services.transit.settlements.page(operator, day, limit=1000)
    return [*page.lines, *page.adjustments]


async def test_a_months_credit_is_split_between_the_operators_files(
    ride: Ride, pg: asyncpg.Connection
) -> None:
    start, credit_day = months(ride)
    await add_journey(pg, "mtr", start, 60000, "HKD")
    await add_journey(pg, "kmb", start + timedelta(days=3), 30000, "HKD")
    await add_journey(pg, "kmb", start + timedelta(days=40), 90000, "HKD")  # the month after
    ride.clock.set(closed_by(credit_day))
    settlements = ride.services.transit.settlements
    await settlements.close("mtr", credit_day)
    await settlements.close("kmb", credit_day)
    # HK$900 spent: a third of HK$400 above HK$500 is 13333 cents, 2:1 between MTR and KMB.
    parts = {}
    for operator in ("mtr", "kmb"):
        [credit] = [x for x in await lines_of(ride, operator, credit_day) if x.kind == "credit"]
        assert credit.original_date == start.date() and credit.category == PRODUCT
        assert credit.status == "credit" and credit.journey_id.startswith("crd_")
        assert credit.fare == credit.share == -credit.discounts[0][1]
        assert credit.base_fare - credit.concession - credit.discounts[0][1] == credit.fare
        parts[operator] = credit
        check_lines_sum_to_totals(await csv_of(ride, operator, credit_day))
    assert (parts["mtr"].fare, parts["kmb"].fare) == (-8889, -4444)
    assert parts["mtr"].journey_id == parts["kmb"].journey_id  # the same rider month
    # No credit on other days of the month, nor for a month under the threshold.
    assert not [x for x in await lines_of(ride, "mtr", start.date()) if x.kind == "credit"]


async def test_a_month_under_the_threshold_earns_no_line(ride: Ride, pg: asyncpg.Connection) -> None:
    start, credit_day = months(ride)
    await add_journey(pg, "mtr", start, 40000, "HKD")
    ride.clock.set(closed_by(credit_day))
    await ride.services.transit.settlements.close("mtr", credit_day)
    assert not [x for x in await lines_of(ride, "mtr", credit_day) if x.kind == "credit"]


async def test_a_late_journey_of_the_month_adjusts_the_credit_in_the_next_day(
    ride: Ride, pg: asyncpg.Connection
) -> None:
    start, credit_day = months(ride)
    await add_journey(pg, "mtr", start, 80000, "HKD")
    ride.clock.set(closed_by(credit_day))
    settlements = ride.services.transit.settlements
    await settlements.close("mtr", credit_day)
    closed = await csv_of(ride, "mtr", credit_day)
    [credit] = [x for x in await lines_of(ride, "mtr", credit_day) if x.kind == "credit"]
    assert credit.fare == -10000
    # An offline tap of the month uploaded after the credit's day closed.
    late = await add_journey(pg, "mtr", start + timedelta(days=5), 30000, "HKD")
    next_day = credit_day + timedelta(days=1)
    pending = await lines_of(ride, "mtr", next_day)  # open: the adjustments to come
    ride.clock.set(closed_by(next_day))
    await settlements.close("mtr", next_day)
    assert await csv_of(ride, "mtr", credit_day) == closed
    assert (await settlements.page("mtr", credit_day)).checksum == hashlib.sha256(closed).hexdigest()
    adjusted = await lines_of(ride, "mtr", next_day)
    assert [(x.kind, x.journey_id) for x in adjusted if x.category == PRODUCT] == [
        ("reversal", credit.journey_id),
        ("restatement", credit.journey_id),
    ]
    reversal, restatement = (x for x in adjusted if x.category == PRODUCT)
    assert reversal.fare == 10000 and restatement.fare == -20000  # a third of HK$600
    assert restatement.original_date == start.date() and restatement.status == "credit"
    assert [x.journey_id for x in adjusted if x.kind == "restatement"] == [late, credit.journey_id] or [
        x.journey_id for x in adjusted if x.kind == "restatement"
    ] == [credit.journey_id, late]
    assert [(x.kind, x.fare) for x in pending] == [(x.kind, x.fare) for x in adjusted]
    check_lines_sum_to_totals(await csv_of(ride, "mtr", next_day))
    # Closing again adjusts nothing twice.
    third = next_day + timedelta(days=1)
    ride.clock.set(closed_by(third))
    await settlements.close("mtr", third)
    assert not [x for x in await lines_of(ride, "mtr", third) if x.category == PRODUCT]


async def test_a_months_spends_count_through_journeys_and_plain_ones_alike(
    ride: Ride, pg: asyncpg.Connection
) -> None:
    """month_spends reads the journeys without share weights and the through journeys apart
    (0055 dropped the index that read them together): each counts its whole fare (its fare
    products' spend when priced in) to the operator it entered by, for every rider or some."""
    start, _ = months(ride)
    end = start + timedelta(days=20)
    plain = await add_journey(pg, "mtr", start, 60000, "HKD")
    through = await add_journey(pg, "mtr", start + timedelta(days=1), 30000, "HKD")
    await pg.execute('UPDATE journeys SET share_weights = \'{"mtr": 1, "kmb": 2}\' WHERE id = $1', through)
    by_bus = await add_journey(pg, "kmb", start + timedelta(days=2), 5000, "HKD")
    await pg.execute(
        "UPDATE journeys SET share_weights = '{\"kmb\": 1}', product_spend = 7000 WHERE id = $1", by_bus
    )
    unpriced = await add_journey(pg, "kmb", start + timedelta(days=3), 1000, "HKD")
    await pg.execute("UPDATE journeys SET fare_amount = NULL WHERE id = $1", unpriced)
    await add_journey(pg, "mtr", end, 80000, "HKD")  # the month after
    user_id = await pg.fetchval("SELECT user_id FROM journeys WHERE id = $1", plain)

    every = await settlements_q.month_spends(pg, ["mtr", "kmb"], start, end)
    some = await settlements_q.month_spends(pg, ["mtr", "kmb"], start, end, [user_id])
    others = await settlements_q.month_spends(pg, ["mtr", "kmb"], start, end, ["usr_nobody"])
    mtr_only = await settlements_q.month_spends(pg, ["mtr"], start, end)
    assert every == some == [(user_id, "kmb", 7000), (user_id, "mtr", 90000)]
    assert others == []
    assert mtr_only == [(user_id, "mtr", 90000)]
