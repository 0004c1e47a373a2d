"""Properties of settlement files over random days and random late arrivals: lines sum to the
totals, a closed day's bytes (and checksum) never change, and what a journey's lines add up to
over every file is what the journey is now."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import asyncpg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bayaffairs.transit.products import FareProduct
from tests.transit.conftest import Ride

METRO = "shenzhen_metro"
SHENZHEN = ZoneInfo("Asia/Shanghai")
STATUSES = ("pending", "charging", "charged", "failed", "held")


@dataclass(frozen=True)
class Trip:
    minute: int  # of the local day
    fare: int
    charge_status: str


@dataclass(frozen=True)
class Late:
    """Something that reaches a journey after its day closed; `index` picks the journey."""

    index: int
    fare: int | None
    charge_status: str


trips = st.builds(Trip, st.integers(0, 24 * 60 - 1), st.integers(0, 3000), st.sampled_from(STATUSES))
late = st.builds(Late, st.integers(0, 50), st.none() | st.integers(0, 3000), st.sampled_from(STATUSES))

_ids: Iterator[int] = itertools.count()


async def add_journeys(pg: asyncpg.Connection, ride: Ride, day: datetime, trips: list[Trip]) -> list[str]:
    user_id = await pg.fetchval("SELECT id FROM users ORDER BY id LIMIT 1")
    stops = ride.stops(METRO)
    ids = []
    for trip in trips:
        journey_id = f"jp{next(_ids):08d}"
        exit_at = day + timedelta(minutes=trip.minute)
        await pg.execute(
            """
            INSERT INTO journeys (id, account_token, user_id, operator, category, status, entry_station,
                entry_at, exit_station, exit_at, fare_amount, fare_currency, fare_rule, charge_amount,
                charge_currency, fx_rate, fx_source, charge_status)
            VALUES ($1, $2, $3, $4, 'adult', 'completed', $5, $6, $7, $8, $9, 'CNY', 'test', $10, 'HKD',
                    1.0900000000, 'demo', $11)
            """,
            journey_id,
            journey_id.encode(),
            user_id,
            METRO,
            stops[0],
            exit_at - timedelta(minutes=20),
            stops[-1],
            exit_at,
            trip.fare,
            round(trip.fare * Decimal("1.09")),
            trip.charge_status,
        )
        ids.append(journey_id)
    return ids


async def file_of(ride: Ride, day: str) -> bytes:
    chunks = [c async for c in ride.services.transit.settlements.csv(METRO, date.fromisoformat(day))]
    return b"".join(chunks)


def check_lines_sum_to_totals(body: bytes) -> None:
    rows = [line.split(",") for line in body.decode().splitlines()]
    lines = [r for r in rows if not r[0].startswith("#") and r[0] != "kind"]
    fare_totals = {
        (r[2], r[3]): (int(r[4]), int(r[7]), int(r[8])) for r in rows if r[:2] == ["# total", "fare"]
    }
    rider_totals = {(r[2], r[3]): (int(r[4]), int(r[5])) for r in rows if r[:2] == ["# total", "rider"]}
    for (currency, status), (count, fare, share) in fare_totals.items():
        mine = [r for r in lines if (r[14], r[15]) == (currency, status)]
        assert (count, fare, share) == (
            len(mine),
            sum(int(r[12]) for r in mine),
            sum(int(r[13]) for r in mine),
        )
    assert sum(c for c, _, _ in fare_totals.values()) == len(lines)
    for (currency, status), (count, amount) in rider_totals.items():
        mine = [r for r in lines if (r[17], r[15]) == (currency, status)]
        assert (count, amount) == (len(mine), sum(int(r[16]) for r in mine))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    first=st.lists(trips, max_size=8),
    changes=st.lists(late, max_size=8),
    newcomers=st.lists(trips, max_size=3),
)
async def test_closed_days_never_change_and_lines_sum_to_totals(
    ride: Ride, pg: asyncpg.Connection, first: list[Trip], changes: list[Late], newcomers: list[Trip]
) -> None:
    # Each example takes two days of its own after the previous example's: the clock is where
    # the previous one left it, on the day after the two days it closed.
    base = ride.clock.today(SHENZHEN)
    day = datetime.combine(base, time(0), SHENZHEN)
    day_text, next_text = base.isoformat(), (base + timedelta(days=1)).isoformat()
    settlements = ride.services.transit.settlements
    ids = await add_journeys(pg, ride, day, first)

    ride.clock.set(datetime.combine(base + timedelta(days=1), time(4), SHENZHEN))
    await settlements.close(METRO, base)
    closed = await file_of(ride, day_text)
    checksum = (await settlements.page(METRO, base)).checksum
    assert checksum == hashlib.sha256(closed).hexdigest()
    check_lines_sum_to_totals(closed)

    # Late arrivals: new states of the day's journeys, and journeys of that day seen only now.
    for change in changes:
        if ids:
            journey_id = ids[change.index % len(ids)]
            await pg.execute(
                "UPDATE journeys SET charge_status = $2, fare_amount = coalesce($3, fare_amount)"
                " WHERE id = $1",
                journey_id,
                change.charge_status,
                change.fare,
            )
    ids += await add_journeys(pg, ride, day, newcomers)
    assert await file_of(ride, day_text) == closed
    check_lines_sum_to_totals(await file_of(ride, next_text))  # open, with the adjustments to come

    ride.clock.set(datetime.combine(base + timedelta(days=2), time(4), SHENZHEN))
    await settlements.close(METRO, base + timedelta(days=1))
    assert await file_of(ride, day_text) == closed
    assert (await settlements.page(METRO, base)).checksum == checksum
    adjusted = await file_of(ride, next_text)
    check_lines_sum_to_totals(adjusted)

    # Over every file, a journey's lines add up to what it is now, in the status it is in now.
    for journey_id in ids:
        now = await pg.fetchrow("SELECT fare_amount, charge_status FROM journeys WHERE id = $1", journey_id)
        assert now is not None
        status = now["charge_status"] if now["charge_status"] in ("charged", "failed") else "pending"
        sums = await pg.fetch(
            "SELECT charge_status, sum(fare) AS fare FROM settlement_lines WHERE journey_id = $1 GROUP BY 1",
            journey_id,
        )
        assert {r["charge_status"]: r["fare"] for r in sums if r["fare"]} == (
            {status: now["fare_amount"]} if now["fare_amount"] else {}
        )


@dataclass(frozen=True)
class Spend:
    """A Hong Kong journey of the subsidy's month: its operator, day of the month and fare."""

    operator: str
    day: int
    fare: int


spends = st.builds(Spend, st.sampled_from(("mtr", "kmb")), st.integers(0, 27), st.integers(0, 40000))


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=st.lists(spends, max_size=6), late_spends=st.lists(spends, max_size=4))
async def test_subsidy_credits_add_up_to_the_months_credit_and_closed_days_never_change(
    ride: Ride, pg: asyncpg.Connection, first: list[Spend], late_spends: list[Spend]
) -> None:
    """Whatever arrives after a credit's day closed, each file's lines sum to its totals, closed
    files keep their bytes, and over every file the operators' credit lines of the rider month
    add up to the month's credit as it is now."""
    zone = ZoneInfo("Asia/Hong_Kong")
    # Each example takes a month of its own after the previous example's: the month after the
    # clock's, which the previous one left early in the month after its own.
    month = (ride.clock.today(zone).replace(day=28) + timedelta(days=4)).replace(day=1)
    credit_day = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    user_id = await pg.fetchval("SELECT id FROM users ORDER BY id LIMIT 1")

    async def add(spend: Spend) -> None:
        journey_id = f"jh{next(_ids):08d}"
        at = datetime.combine(month + timedelta(days=spend.day), time(9), zone)
        await pg.execute(
            """
            INSERT INTO journeys (id, account_token, user_id, operator, category, status, entry_station,
                entry_at, exit_station, exit_at, fare_amount, fare_currency, fare_rule, charge_status)
            VALUES ($1, $2, $3, $4, 'adult', 'completed', 'a', $5, 'b', $5, $6, 'HKD', 'test', 'charged')
            """,
            journey_id,
            journey_id.encode(),
            user_id,
            spend.operator,
            at,
            spend.fare,
        )

    async def hk_file(operator: str, day: date) -> bytes:
        return b"".join([c async for c in ride.services.transit.settlements.csv(operator, day)])

    for spend in first:
        await add(spend)
    settlements = ride.services.transit.settlements
    ride.clock.set(datetime.combine(credit_day + timedelta(days=1), time(4), zone))
    closed = {}
    for operator in ("mtr", "kmb"):
        await settlements.close(operator, credit_day)
        closed[operator] = await hk_file(operator, credit_day)
        check_lines_sum_to_totals(closed[operator])
    for spend in late_spends:
        await add(spend)
    next_day = credit_day + timedelta(days=1)
    ride.clock.set(datetime.combine(next_day + timedelta(days=1), time(4), zone))
    for operator in ("mtr", "kmb"):
        await settlements.close(operator, next_day)
        assert await hk_file(operator, credit_day) == closed[operator]
        check_lines_sum_to_totals(await hk_file(operator, next_day))

    [subsidy] = [p for p in ride.services.transit.products.products if p.id == "hk_fare_subsidy"]
    assert isinstance(subsidy, FareProduct)
    spent = sum(s.fare for s in first + late_spends)
    credited = await pg.fetchval(
        "SELECT coalesce(sum(fare), 0) FROM settlement_lines WHERE category = 'hk_fare_subsidy'"
        " AND original_date = $1",
        month,
    )
    assert -credited == subsidy.value(spent)
