"""An uploaded offline tap is priced at the rider's fare category when it was scanned (issue 15
item 4: the state at `scanned_at`), not at its upload: a concession verified since the ride does
not make it free, and one that ended since does not make it dearer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
import pytest

from bayaffairs.transit.model import Trip
from tests.transit.conftest import Ride

pytestmark = pytest.mark.at_two_instants

BUS = "shenzhen_bus"  # elderly ride free, students half fare (config/cities/shenzhen.toml)


async def priced(pg: asyncpg.Connection, tap_id: str) -> tuple[str, int]:
    row = await pg.fetchrow(
        "SELECT j.category, j.fare_amount FROM tap_uploads u JOIN journeys j ON j.id = u.journey_id"
        " WHERE u.tap_id = $1",
        tap_id,
    )
    assert row is not None, f"{tap_id} was not recorded"
    return row["category"], row["fare_amount"]


@pytest.mark.parametrize(("before", "after"), [("adult", "elderly"), ("elderly", "student")])
async def test_an_offline_tap_is_priced_at_the_category_the_rider_had_when_it_was_scanned(
    ride: Ride, pg: asyncpg.Connection, before: str, after: str
) -> None:
    rider = await ride.api.sign_in("category-rider", category=before)
    assert (await rider.put("/v1/me/wallet", {"currency": "HKD", "provider": "demo"}))[0] == 200
    gate = await ride.gate(BUS)
    fare = ride.operator(BUS).fares
    scanned = ride.clock.now()
    offline = (await ride.code("shenzhen", rider))["payload"]
    ride.clock.advance(minutes=30)
    await ride.api.sign_in("category-rider", category=after)  # the provider verified a change since
    assert (await rider.get("/v1/me"))[1]["category"] == after
    online = (await ride.code("shenzhen", rider))["payload"]
    uploaded_at = ride.clock.now()
    ride.clock.advance(minutes=5)

    await ride.upload(gate, [ride.offline_tap(BUS, "scanned-before", offline, scanned)])
    await ride.upload(gate, [ride.offline_tap(BUS, "scanned-after", online, uploaded_at)])

    category, amount = await priced(pg, "scanned-before")
    assert category == before
    assert amount == fare_of(fare, ride, before, scanned)
    # Control: a tap scanned after the change is priced at the new category.
    assert await priced(pg, "scanned-after") == (after, fare_of(fare, ride, after, uploaded_at))
    assert fare_of(fare, ride, before, scanned) != fare_of(fare, ride, after, uploaded_at)


def fare_of(fares: Any, ride: Ride, category: str, at: datetime) -> int:
    return int(fares.fare(Trip(ride.stops(BUS)[0], None, at, category)).amount.amount)


async def test_an_offline_metro_journey_is_priced_at_the_category_the_rider_had_at_its_entry(
    ride: Ride, pg: asyncpg.Connection
) -> None:
    """Entry and exit priced together (record_scans()), as against the bus's fixed fares."""
    metro = "shenzhen_metro"
    rider = await ride.api.sign_in("metro-rider", category="adult")
    assert (await rider.put("/v1/me/wallet", {"currency": "HKD", "provider": "demo"}))[0] == 200
    gate = await ride.gate(metro)
    entry, exit_ = ride.stops(metro)[0], ride.stops(metro)[-1]
    entered = ride.clock.now()
    entry_code = (await ride.code("shenzhen", rider))["payload"]
    ride.clock.advance(minutes=20)
    left = ride.clock.now()
    exit_code = (await ride.code("shenzhen", rider))["payload"]
    ride.clock.advance(minutes=10)
    await ride.api.sign_in("metro-rider", category="elderly")

    taps = [
        {**ride.offline_tap(BUS, "in-1", entry_code, entered), "station": entry, "gate_id": "m-1"},
        {
            **ride.offline_tap(BUS, "out-1", exit_code, left),
            "station": exit_,
            "direction": "out",
            "gate_id": "m-2",
        },
    ]
    await ride.upload(gate, taps)
    await ride.services.transit.uploads.drain(settle_seconds=0)

    row = await pg.fetchrow("SELECT category, status, fare_amount FROM journeys")
    adult = ride.operator(metro).fares.fare(Trip(entry, exit_, entered, "adult")).amount.amount
    assert (row["category"], row["status"], row["fare_amount"]) == ("adult", "completed", adult)
    assert adult > 0  # control: elderly ride free here
