"""Shenzhen's bus-to-metro transfer discount is priced on the later leg whatever order the legs
reach us in: an earlier bus leg uploaded after the metro journey re-prices the metro journey,
and when the metro journey's day has closed the change is an adjustment of the next day."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import orjson
import pytest

from tests.support import Api
from tests.transit.conftest import Ride, uploaded_tap

pytestmark = pytest.mark.at_two_instants

METRO, BUS = "shenzhen_metro", "shenzhen_bus"
SHENZHEN = ZoneInfo("Asia/Shanghai")


async def upload(ride: Ride, gate: Api, *taps: dict[str, Any], again: bool = False) -> None:
    status, result = await gate.post("/v1/gate/taps:batch", {"taps": list(taps)})
    assert (status, result["accepted" if not again else "duplicates"]) == (200, len(taps)), result
    await ride.services.transit.uploads.drain(settle_seconds=0)


async def legs(ride: Ride) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A bus tap-in, then 30 minutes later a 25-minute metro trip: the taps, as offline gates
    kept them."""
    bus = uploaded_tap(
        "bus-1", (await ride.code("shenzhen"))["payload"], ride.stops(BUS)[0], "in", ride.clock.now()
    )
    ride.clock.advance(minutes=30)
    stops = ride.stops(METRO)
    entry = uploaded_tap("in-1", (await ride.code("shenzhen"))["payload"], stops[0], "in", ride.clock.now())
    ride.clock.advance(minutes=25)
    exit_ = uploaded_tap(
        "out-1", (await ride.code("shenzhen"))["payload"], stops[-1], "out", ride.clock.now()
    )
    return bus, [entry, exit_]


async def metro_journey(pg: asyncpg.Connection) -> asyncpg.Record:
    row = await pg.fetchrow(
        "SELECT id, fare_amount, charge_amount, transfer_discounts FROM journeys WHERE operator = $1", METRO
    )
    assert row is not None
    return row


async def test_the_discount_is_the_same_in_either_upload_order(ride: Ride, pg: asyncpg.Connection) -> None:
    bus_gate, metro_gate = await ride.gate(BUS), await ride.gate(METRO)
    bus, metro = await legs(ride)
    await upload(ride, metro_gate, *metro)  # the later leg first: no earlier leg known yet
    full = await metro_journey(pg)
    assert full["transfer_discounts"] is None
    await upload(ride, bus_gate, bus)
    discounted = await metro_journey(pg)
    assert discounted["fare_amount"] == full["fare_amount"] - 40
    assert orjson.loads(discounted["transfer_discounts"]) == [["bus_to_metro", 40]]
    assert discounted["charge_amount"] < full["charge_amount"]  # not charged yet: the charge follows
    # In the usual order the journey is priced with the discount at once: the same fare.
    await pg.execute("DELETE FROM journeys")
    await pg.execute("DELETE FROM taps")
    await pg.execute("DELETE FROM tap_uploads")
    bus, metro = await legs(ride)
    await upload(ride, bus_gate, bus)
    await upload(ride, metro_gate, *metro)
    assert (await metro_journey(pg))["fare_amount"] == discounted["fare_amount"]


async def test_a_bus_leg_uploaded_again_or_too_early_changes_nothing(
    ride: Ride, pg: asyncpg.Connection
) -> None:
    bus_gate, metro_gate = await ride.gate(BUS), await ride.gate(METRO)
    bus, metro = await legs(ride)
    await upload(ride, bus_gate, bus)
    await upload(ride, metro_gate, *metro)
    once = await metro_journey(pg)
    await upload(ride, bus_gate, bus, again=True)  # a gate retrying its upload
    assert await metro_journey(pg) == once
    # A bus ride two hours before the metro entry is no transfer.
    now, before = ride.clock.now(), datetime.fromisoformat(bus["scanned_at"]) - timedelta(hours=2)
    ride.clock.set(before)
    early = uploaded_tap("bus-0", (await ride.code("shenzhen"))["payload"], ride.stops(BUS)[0], "in", before)
    ride.clock.set(now)
    await upload(ride, bus_gate, early)
    assert await metro_journey(pg) == once


async def test_a_late_earlier_leg_after_the_close_is_an_adjustment(
    ride: Ride, pg: asyncpg.Connection
) -> None:
    ride.clock.set(datetime.combine(ride.clock.today(SHENZHEN), time(10), SHENZHEN))
    day = ride.clock.today(SHENZHEN)
    bus_gate, metro_gate = await ride.gate(BUS), await ride.gate(METRO)
    bus, metro = await legs(ride)
    await upload(ride, metro_gate, *metro)
    full = await metro_journey(pg)
    settlements = ride.services.transit.settlements
    ride.clock.set(datetime.combine(day + timedelta(days=1), time(4), SHENZHEN))
    await settlements.close(METRO, day)
    closed = await pg.fetchval(
        "SELECT checksum FROM settlement_days WHERE operator = $1 AND day = $2", METRO, day
    )
    await upload(ride, bus_gate, bus)  # within the offline window, after the close
    assert (await metro_journey(pg))["fare_amount"] == full["fare_amount"] - 40
    assert (
        await pg.fetchval("SELECT checksum FROM settlement_days WHERE operator = $1 AND day = $2", METRO, day)
        == closed
    )
    next_day = await settlements.page(METRO, day + timedelta(days=1))
    reversal, restatement = next_day.adjustments
    assert (reversal.kind, reversal.journey_id, reversal.original_date) == ("reversal", full["id"], day)
    assert reversal.fare == -full["fare_amount"]
    assert restatement.fare == full["fare_amount"] - 40
    assert restatement.discounts == (("bus_to_metro", 40),)
    assert restatement.base_fare - restatement.concession - 40 == restatement.fare


async def test_a_charged_later_leg_gets_the_discount_back(ride: Ride, pg: asyncpg.Connection) -> None:
    bus_gate, metro_gate = await ride.gate(BUS), await ride.gate(METRO)
    bus, metro = await legs(ride)
    await upload(ride, metro_gate, *metro)
    await ride.services.transit.charges.charge_pending()
    full = await metro_journey(pg)
    assert await pg.fetchval("SELECT charge_status FROM journeys WHERE id = $1", full["id"]) == "charged"
    await upload(ride, bus_gate, bus)
    assert (await metro_journey(pg))["fare_amount"] == full["fare_amount"] - 40
    status, page = await ride.rider.get("/v1/journeys")
    assert status == 200
    shown = next(j for j in page["items"] if j["id"] == full["id"])
    [refund] = shown["refunds"]
    assert refund["reason"] == "transfer discount"
    assert refund["fare"] == {"amount": 40, "currency": "CNY"} and refund["amount"]["amount"] > 0
    assert shown["charge"]["amount"] == full["charge_amount"]  # the charge stays as made
