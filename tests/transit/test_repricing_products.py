"""Repricing (a late tap-out, a repair) keeps the rider's fare products: the journey gets the
discount it would have got had it been priced right the first time, against the rest of the
month's spend, and the month counts its real fare, not the maximum."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import asyncpg
import orjson
import pytest

from bayaffairs.db.queries import journeys as journeys_q
from bayaffairs.fx import convert
from bayaffairs.transit.model import Trip
from bayaffairs.transit.products import FareProduct
from tests.transit.conftest import Ride
from tests.transit.test_fare_products import CHINA, add_journey, month_start

METRO = "guangzhou_metro"
BEFORE = 10000  # RMB 100 spent this month already: the 20 % tier


def product(ride: Ride) -> FareProduct:
    products: list[FareProduct] = ride.services.transit.products.products
    return next(p for p in products if p.id == "gz_monthly_spend")


async def closed_at_the_maximum(ride: Ride, pg: asyncpg.Connection, *, charge: bool) -> tuple[str, int]:
    """RMB 100 spent this month, then a journey entered at the first stop and closed as unfinished
    (its products priced by the charging job); (its id, its maximum fare)."""
    start = month_start(ride, CHINA)
    ride.clock.set(start + timedelta(days=3))
    await add_journey(pg, METRO, start + timedelta(hours=1), BEFORE, "CNY")
    charges = ride.services.transit.charges
    assert await charges.charge_pending() == 1
    gate = await ride.gate(METRO)
    opened = await ride.scan(gate, (await ride.code("guangzhou"))["payload"], ride.stops(METRO)[0])
    ride.clock.advance(minutes=ride.operator(METRO).rules.max_journey_minutes + 30)
    assert await ride.services.transit.journeys.close_overdue() == 1
    assert await charges.charge_pending() == 1
    row = await pg.fetchrow("SELECT * FROM journeys WHERE id = $1", opened["journey_id"])
    maximum = row["product_spend"]
    assert maximum == ride.operator(METRO).fares.max_fare(ride.stops(METRO)[0], "adult").amount.amount
    assert row["fare_amount"] == maximum - product(ride).discount(BEFORE, maximum)  # the discount taken
    if not charge:  # the charge came back unanswered: priced, not sent yet
        await pg.execute("UPDATE journeys SET charge_status = 'pending' WHERE id = $1", opened["journey_id"])
    return opened["journey_id"], maximum


def real_fare(ride: Ride, entry_at: datetime, exit_station: str) -> int:
    quote = ride.operator(METRO).fares.fare(Trip(ride.stops(METRO)[0], exit_station, entry_at))
    return quote.amount.amount


async def assert_repriced(
    ride: Ride, pg: asyncpg.Connection, journey_id: str, maximum: int, base: int, reason: str
) -> None:
    gz = product(ride)
    row = await pg.fetchrow("SELECT * FROM journeys WHERE id = $1", journey_id)
    fare = base - gz.discount(BEFORE, base)
    assert base < maximum and gz.discount(BEFORE, base) > 0
    assert (row["product_spend"], row["fare_amount"]) == (base, fare)
    assert orjson.loads(row["discounts"]) == [["gz_monthly_spend", gz.discount(BEFORE, base)]]
    [refund] = await pg.fetch("SELECT * FROM journey_refunds WHERE journey_id = $1", journey_id)
    old_fare = maximum - gz.discount(BEFORE, maximum)
    assert (refund["fare_amount"], refund["reason"]) == (old_fare - fare, reason)
    assert refund["amount"] == row["charge_amount"] - convert(fare, "CNY", "HKD", row["fx_rate"])
    # The month counts the real fare: the rider's progress and the next journey's discount.
    status, products = await ride.rider.get("/v1/me/fare-products")
    assert status == 200
    month = next(p for p in products["items"] if p["product"] == "gz_monthly_spend")
    assert month["spent"]["amount"] == BEFORE + base
    assert month["discount"]["amount"] == gz.value(BEFORE + base)


async def test_a_late_tap_out_refunds_the_discounted_difference(ride: Ride, pg: asyncpg.Connection) -> None:
    journey_id, maximum = await closed_at_the_maximum(ride, pg, charge=True)
    exit_station = ride.stops(METRO)[1]
    gate = await ride.gate(METRO)
    out = await ride.scan(gate, (await ride.code("guangzhou"))["payload"], exit_station, "out")
    assert out["journey_id"] == journey_id
    entry_at = await pg.fetchval("SELECT entry_at FROM journeys WHERE id = $1", journey_id)
    base = real_fare(ride, entry_at, exit_station) + (ride.operator(METRO).rules.overtime_surcharge or 0)
    await assert_repriced(ride, pg, journey_id, maximum, base, "late tap-out")
    assert out["fare"]["amount"] == base - product(ride).discount(BEFORE, base)


async def test_a_repair_refunds_the_discounted_difference(ride: Ride, pg: asyncpg.Connection) -> None:
    journey_id, maximum = await closed_at_the_maximum(ride, pg, charge=True)
    exit_station = ride.stops(METRO)[1]
    status, body = await ride.rider.post(f"/v1/journeys/{journey_id}/repair", {"exit_station": exit_station})
    assert status == 200, body
    entry_at = await pg.fetchval("SELECT entry_at FROM journeys WHERE id = $1", journey_id)
    await assert_repriced(ride, pg, journey_id, maximum, real_fare(ride, entry_at, exit_station), "repair")


async def test_a_journey_priced_but_not_yet_charged_is_charged_its_discounted_real_fare(
    ride: Ride, pg: asyncpg.Connection
) -> None:
    journey_id, _ = await closed_at_the_maximum(ride, pg, charge=False)
    exit_station = ride.stops(METRO)[1]
    status, body = await ride.rider.post(f"/v1/journeys/{journey_id}/repair", {"exit_station": exit_station})
    assert status == 200, body
    entry_at = await pg.fetchval("SELECT entry_at FROM journeys WHERE id = $1", journey_id)
    base = real_fare(ride, entry_at, exit_station)
    fare = base - product(ride).discount(BEFORE, base)
    assert await ride.services.transit.charges.charge_pending() == 1
    row = await pg.fetchrow("SELECT * FROM journeys WHERE id = $1", journey_id)
    assert (row["product_spend"], row["fare_amount"], row["charge_status"]) == (base, fare, "charged")
    assert row["charge_amount"] == convert(fare, "CNY", "HKD", row["fx_rate"])
    assert await pg.fetchval("SELECT count(*) FROM journey_refunds") == 0


async def net_paid(pg: asyncpg.Connection, journey_id: str) -> int:
    """What the rider pays for the journey: its charge less its refund lines."""
    charge = await pg.fetchval("SELECT charge_amount FROM journeys WHERE id = $1", journey_id)
    back = await pg.fetchval(
        "SELECT coalesce(sum(amount), 0) FROM journey_refunds WHERE journey_id = $1", journey_id
    )
    return int(charge - back)


async def test_a_repair_while_its_charge_is_being_made_nets_the_discounted_real_fare(
    ride: Ride, pg: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    journey_id, _ = await closed_at_the_maximum(ride, pg, charge=False)
    exit_station = ride.stops(METRO)[1]
    entry_at = await pg.fetchval("SELECT entry_at FROM journeys WHERE id = $1", journey_id)
    base = real_fare(ride, entry_at, exit_station)
    fare = base - product(ride).discount(BEFORE, base)
    await pg.execute(  # its products not priced yet: as a journey closed and not charged at all
        "UPDATE journeys SET product_spend = NULL, discounts = NULL, fare_amount = $2, charge_amount = $3"
        " WHERE id = $1",
        journey_id,
        ride.operator(METRO).fares.max_fare(ride.stops(METRO)[0], "adult").amount.amount,
        convert(
            ride.operator(METRO).fares.max_fare(ride.stops(METRO)[0], "adult").amount.amount,
            "CNY",
            "HKD",
            await pg.fetchval("SELECT fx_rate FROM journeys WHERE id = $1", journey_id),
        ),
    )
    charges = ride.services.transit.charges
    repaired: list[str] = []

    def meanwhile(step: Any) -> Any:
        """The rider repairs the journey once the charging job claimed it, before the job's next
        step (pricing its products, or calling the wallet)."""

        async def run(job: Any) -> Any:
            if not repaired:
                # control: the repair does come in the window (claimed, not charged yet)
                claimed = await journeys_q.get(pg, journey_id)  # as the service reads it
                assert claimed is not None
                repaired.append(claimed.charge_status)
                status, body = await ride.rider.post(
                    f"/v1/journeys/{journey_id}/repair", {"exit_station": exit_station}
                )
                assert status == 200, body
            return await step(job)

        return run

    monkeypatch.setattr(charges.products, "price", meanwhile(charges.products.price))
    monkeypatch.setattr(charges, "_charge", meanwhile(charges._charge))
    assert await charges.charge_pending() == 1
    rate = await pg.fetchval("SELECT fx_rate FROM journeys WHERE id = $1", journey_id)
    assert await pg.fetchval("SELECT charge_status FROM journeys WHERE id = $1", journey_id) == "charged"
    assert await net_paid(pg, journey_id) == convert(fare, "CNY", "HKD", rate)
    assert await pg.fetchval("SELECT product_spend FROM journeys WHERE id = $1", journey_id) == base
    assert repaired == ["charging"]
