"""A journey's price in its parts: base_fare - concession - discounts = fare, stored when the
journey is priced and shown alike in the rider's journeys and the operator's settlement lines."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from tests.transit.conftest import Ride


async def as_category(pg: asyncpg.Connection, category: str) -> None:
    await pg.execute("UPDATE users SET category = $1", category)


async def journey(ride: Ride, journey_id: str) -> dict[str, Any]:
    status, page = await ride.rider.get("/v1/journeys")
    assert status == 200
    return next(j for j in page["items"] if j["id"] == journey_id)


async def settled(ride: Ride, operator: str, journey_id: str) -> Any:
    day = ride.clock.today(ZoneInfo(ride.operator(operator).info.time_zone))
    page = await ride.services.transit.settlements.page(operator, day)
    return page, next(line for line in page.lines if line.journey_id == journey_id)


def adds_up(parts: dict[str, Any]) -> bool:
    discounts = sum(d["amount"] for d in parts["discounts"])
    return parts["base_fare"]["amount"] - parts["concession"]["amount"] - discounts == parts["fare"]["amount"]


async def test_a_hong_kong_elderly_bus_fare_shows_the_two_dollar_concession(
    ride: Ride, pg: asyncpg.Connection
) -> None:
    """KMB's fare is fixed at tap-in (written in one statement with the journey)."""
    await as_category(pg, "elderly")
    bus = await ride.gate("kmb")
    tap = await ride.scan(bus, (await ride.code("hong_kong"))["payload"], "1a")
    assert tap["decision"] == "open"
    shown = await journey(ride, tap["journey_id"])
    assert shown["base_fare"] == {"amount": 680, "currency": "HKD"}
    assert shown["concession"] == {"amount": 480, "currency": "HKD"}
    assert shown["fare"] == {"amount": 200, "currency": "HKD"} and adds_up(shown)
    page, line = await settled(ride, "kmb", tap["journey_id"])
    assert (line.base_fare, line.concession, line.discounts, line.fare) == (680, 480, (), 200)
    [total] = page.totals["fare"]
    assert (total["base_fare"], total["concession"], total["fare"]) == (680, 480, 200)


async def test_a_student_metro_fare_shows_the_concession(ride: Ride, pg: asyncpg.Connection) -> None:
    """Shenzhen Metro prices at tap-out, from what record_scans() returns."""
    await as_category(pg, "student")
    metro = await ride.gate("shenzhen_metro")
    stops = ride.stops("shenzhen_metro")
    await ride.scan(metro, (await ride.code("shenzhen"))["payload"], stops[0])
    ride.clock.advance(minutes=20)
    out = await ride.scan(metro, (await ride.code("shenzhen"))["payload"], stops[-1], "out")
    shown = await journey(ride, out["journey_id"])
    full = shown["base_fare"]["amount"]
    assert shown["fare"]["amount"] == (full + 1) // 2 and shown["concession"]["amount"] == full // 2
    assert adds_up(shown)
    _, line = await settled(ride, "shenzhen_metro", out["journey_id"])
    assert (line.base_fare, line.concession, line.fare) == (full, full // 2, shown["fare"]["amount"])


async def test_a_concession_resting_on_height_is_not_shown_nor_granted(
    ride: Ride, pg: asyncpg.Connection
) -> None:
    await as_category(pg, "child")
    metro = await ride.gate("shenzhen_metro")
    stops = ride.stops("shenzhen_metro")
    await ride.scan(metro, (await ride.code("shenzhen"))["payload"], stops[0])
    ride.clock.advance(minutes=20)
    out = await ride.scan(metro, (await ride.code("shenzhen"))["payload"], stops[-1], "out")
    shown = await journey(ride, out["journey_id"])
    assert shown["concession"] == {"amount": 0, "currency": "CNY"}
    assert shown["base_fare"] == shown["fare"]


async def test_a_transfer_discount_is_a_discount_of_the_journey(ride: Ride, pg: asyncpg.Connection) -> None:
    await as_category(pg, "student")
    bus, metro = await ride.gate("shenzhen_bus"), await ride.gate("shenzhen_metro")
    stops = ride.stops("shenzhen_metro")
    await ride.scan(bus, (await ride.code("shenzhen"))["payload"], ride.stops("shenzhen_bus")[0])
    ride.clock.advance(minutes=30)
    await ride.scan(metro, (await ride.code("shenzhen"))["payload"], stops[0])
    ride.clock.advance(minutes=20)
    out = await ride.scan(metro, (await ride.code("shenzhen"))["payload"], stops[-1], "out")
    shown = await journey(ride, out["journey_id"])
    assert shown["discounts"] == [{"product": "bus_to_metro", "name": "Bus to metro transfer", "amount": 40}]
    _, chinese = await ride.rider.get("/v1/journeys", headers={"Accept-Language": "zh-Hant"})
    (named,) = next(j for j in chinese["items"] if j["id"] == out["journey_id"])["discounts"]
    assert named["name"] == "巴士轉乘地鐵優惠"  # the transfer's own name, not its id
    assert shown["concession"]["amount"] > 0 and adds_up(shown)
    _, line = await settled(ride, "shenzhen_metro", out["journey_id"])
    assert line.discounts == (("bus_to_metro", 40),)
    assert line.base_fare - line.concession - 40 == line.fare == shown["fare"]["amount"]
