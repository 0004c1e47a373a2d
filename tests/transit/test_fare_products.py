"""Fare products: Guangzhou's monthly metro and bus discount priced into journeys, Hong Kong's fare
subsidy as a monthly credit, and the rider's month so far (GET /v1/me/fare-products)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

import asyncpg
import orjson
from hypothesis import given
from hypothesis import strategies as st

from bayaffairs.i18n import Text
from bayaffairs.transit.products import FareProduct, Tier
from tests.transit.conftest import Ride

CHINA = ZoneInfo("Asia/Shanghai")
HONG_KONG = ZoneInfo("Asia/Hong_Kong")
GZ = FareProduct(
    "gz_monthly_spend",
    "monthly_spend_discount",
    Text("Guangzhou monthly"),
    frozenset({"guangzhou_metro", "guangzhou_bus"}),
    "CNY",
    "Asia/Shanghai",
    tiers=(Tier(8000, 20), Tier(20000, 50)),
)
SUBSIDY = FareProduct(
    "hk_fare_subsidy",
    "monthly_subsidy",
    Text("Fare subsidy"),
    frozenset({"mtr"}),
    "HKD",
    "Asia/Hong_Kong",
    threshold=50000,
    share=Fraction(1, 3),
    cap=40000,
)


def test_the_guangzhou_discount_is_20_percent_above_rmb_80_and_50_percent_above_rmb_200() -> None:
    assert [GZ.value(s) for s in (0, 8000, 10000, 20000, 25000)] == [0, 0, 400, 2400, 4900]
    assert GZ.discount(7000, 2000) == 200  # only the RMB 10 above RMB 80 is discounted


def test_the_hong_kong_subsidy_is_a_third_above_hkd_500_capped_at_hkd_400() -> None:
    assert [SUBSIDY.value(s) for s in (50000, 80000, 170000, 500000)] == [0, 10000, 40000, 40000]


@given(st.lists(st.integers(0, 3000), max_size=60), st.randoms())
def test_a_months_discounts_add_up_to_the_discount_of_its_spend_in_any_order(fares: list[int], rnd) -> None:  # type: ignore[no-untyped-def]
    def taken(order: list[int]) -> int:
        spent = total = 0
        for fare in order:
            total += GZ.discount(spent, fare)
            spent += fare
        return total

    shuffled = list(fares)
    rnd.shuffle(shuffled)
    assert taken(fares) == taken(shuffled) == GZ.value(sum(fares))


_ids: Iterator[int] = itertools.count()


async def add_journey(pg: asyncpg.Connection, operator: str, at: datetime, fare: int, currency: str) -> str:
    user_id = await pg.fetchval("SELECT id FROM users ORDER BY id LIMIT 1")
    journey_id = f"jfp{next(_ids):06d}"
    await pg.execute(
        """
        INSERT INTO journeys (id, account_token, user_id, operator, category, status, entry_station, entry_at,
            exit_station, exit_at, fare_amount, fare_currency, fare_rule, charge_amount, charge_currency,
            fx_rate, fx_source, charge_status)
        VALUES ($1, $2, $3, $4, 'adult', 'completed', 'a', $5, 'b', $5, $6, $7, 'test', $6, $7, 1, 'same',
                'pending')
        """,
        journey_id,
        journey_id.encode(),
        user_id,
        operator,
        at,
        fare,
        currency,
    )
    return journey_id


def month_start(ride: Ride, zone: ZoneInfo) -> datetime:
    """10:00 on the first day of the month after the clock's."""
    today = ride.clock.today(zone)
    first = (today.replace(day=28) + timedelta(days=4)).replace(day=1)
    return datetime.combine(first, time(10), zone)


async def test_the_guangzhou_discount_is_priced_into_the_journeys_that_cross_each_tier(
    ride: Ride, pg: asyncpg.Connection
) -> None:
    start = month_start(ride, CHINA)
    ride.clock.set(start + timedelta(days=3))
    fares = [3000, 3000, 3000, 3000]  # RMB 90 after the third, RMB 120 after the fourth
    ids = [
        await add_journey(
            pg, "guangzhou_metro" if n % 2 else "guangzhou_bus", start + timedelta(hours=n), fare, "CNY"
        )
        for n, fare in enumerate(fares)
    ]
    assert await ride.services.transit.charges.charge_pending() == 4
    rows = {
        r["id"]: r
        for r in await pg.fetch(
            "SELECT id, fare_amount, product_spend, discounts, charge_amount FROM journeys"
        )
    }
    assert [rows[i]["fare_amount"] for i in ids] == [3000, 3000, 3000 - 200, 3000 - 600]
    assert [rows[i]["product_spend"] for i in ids] == fares
    assert orjson.loads(rows[ids[2]]["discounts"]) == [["gz_monthly_spend", 200]]
    assert rows[ids[3]]["charge_amount"] == 2400  # charged the fare after the discount

    status, journeys = await ride.rider.get("/v1/journeys")
    assert status == 200
    last = next(j for j in journeys["items"] if j["id"] == ids[3])
    assert last["base_fare"] == {"amount": 3000, "currency": "CNY"}
    assert last["discounts"] == [
        {"product": "gz_monthly_spend", "name": "Guangzhou monthly metro and bus discount", "amount": 600}
    ]
    assert last["fare"] == {"amount": 2400, "currency": "CNY"}
    _, chinese = await ride.rider.get("/v1/journeys", headers={"Accept-Language": "zh-Hans"})
    shown = next(j for j in chinese["items"] if j["id"] == ids[3])
    assert [d["name"] for d in shown["discounts"]] == ["广州地铁公交月度优惠"]  # the product's own name

    status, products = await ride.rider.get("/v1/me/fare-products")
    assert status == 200
    gz = next(p for p in products["items"] if p["product"] == "gz_monthly_spend")
    assert gz["spent"] == {"amount": 12000, "currency": "CNY"} and gz["journeys"] == 4
    assert gz["discount"] == {"amount": 800, "currency": "CNY"}
    assert gz["next_tier"] == {"above": {"amount": 20000, "currency": "CNY"}, "percent": 50}
    # A retried charge prices nothing twice.
    await pg.execute("UPDATE journeys SET charge_status = 'pending'")
    await ride.services.transit.charges.charge_pending()
    assert await pg.fetchval("SELECT sum(fare_amount) FROM journeys") == 12000 - 800


async def test_a_new_month_starts_from_nothing(ride: Ride, pg: asyncpg.Connection) -> None:
    start = month_start(ride, CHINA)
    await add_journey(pg, "guangzhou_metro", start - timedelta(hours=11), 9000, "CNY")  # the month before
    later = await add_journey(pg, "guangzhou_metro", start, 3000, "CNY")
    await ride.services.transit.charges.charge_pending()
    assert orjson.loads(await pg.fetchval("SELECT discounts FROM journeys WHERE id = $1", later)) == []


async def test_operators_outside_a_product_get_nothing_off(ride: Ride, pg: asyncpg.Connection) -> None:
    start = month_start(ride, CHINA)
    for n in range(4):
        await add_journey(pg, "shenzhen_metro", start + timedelta(hours=n), 3000, "CNY")
    await ride.services.transit.charges.charge_pending()
    assert await pg.fetchval("SELECT sum(fare_amount) FROM journeys") == 12000
    assert await pg.fetchval("SELECT count(*) FROM journeys WHERE product_spend IS NOT NULL") == 0


async def test_the_hong_kong_subsidy_is_a_monthly_credit_not_a_fare_change(
    ride: Ride, pg: asyncpg.Connection
) -> None:
    start = month_start(ride, HONG_KONG)
    ride.clock.set(start + timedelta(days=1))
    for n in range(4):
        await add_journey(pg, "mtr", start + timedelta(hours=n), 20000, "HKD")
    await ride.services.transit.charges.charge_pending()
    assert await pg.fetchval("SELECT sum(fare_amount) FROM journeys") == 80000
    _, products = await ride.rider.get("/v1/me/fare-products")
    subsidy = next(p for p in products["items"] if p["product"] == "hk_fare_subsidy")
    assert subsidy["spent"] == {"amount": 80000, "currency": "HKD"}
    assert subsidy["credit"] == {"amount": 10000, "currency": "HKD"} and subsidy["discount"] is None
    assert subsidy["cap"] == {"amount": 40000, "currency": "HKD"}


async def test_settlement_lines_carry_each_discount(ride: Ride, pg: asyncpg.Connection) -> None:
    start = month_start(ride, CHINA)
    ids = [
        await add_journey(pg, "guangzhou_metro", start + timedelta(hours=n), 5000, "CNY") for n in range(2)
    ]
    await ride.services.transit.charges.charge_pending()
    ride.clock.set(start + timedelta(days=1))
    page = await ride.services.transit.settlements.page("guangzhou_metro", start.date())
    last = next(line for line in page.lines if line.journey_id == ids[1])
    assert (last.base_fare, last.discounts, last.fare) == (5000, (("gz_monthly_spend", 400),), 4600)
    assert last.base_fare - last.concession - sum(a for _, a in last.discounts) == last.fare
    assert Decimal(last.fx_rate or 0) == 1


async def test_every_product_covers_operators_that_exist(ride: Ride) -> None:
    products = ride.services.transit.products.products
    assert {p.id for p in products} >= {"gz_monthly_spend", "hk_fare_subsidy"}
    for product in products:
        assert product.operators <= set(ride.services.transit.network.operators), product.id
