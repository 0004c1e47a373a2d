"""Taps scanned before a rider's account was erased, uploaded by an offline gate after it, are no
free ride (issue 15 item 4): they are judged by the account as it stood at the scan, recorded
under the pseudonym the erasure left, and their fare, which no wallet can be charged for any
more, is a debt of that pseudonym, without bringing back anything the erasure removed. A tap
scanned after the erasure is refused (the control)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from tests.privacy.conftest import World
from tests.privacy.test_deletion import delete
from tests.support import Api
from tests.transit.conftest import uploaded_tap


async def upload_and_drain(world: World, gate: Api, taps: list[dict[str, Any]]) -> None:
    status, result = await gate.post("/v1/gate/taps:batch", {"taps": taps})
    assert (status, result["accepted"]) == (200, len(taps)), result
    await world.services.transit.uploads.drain(settle_seconds=0)


async def outcome(pg: asyncpg.Connection, tap_id: str) -> tuple[str, str | None]:
    row = await pg.fetchrow("SELECT state, reason FROM tap_uploads WHERE tap_id = $1", tap_id)
    return row["state"], row["reason"]


async def erased(world: World) -> str:
    status, deleted = await delete(world)
    assert (status, deleted["status"]) == (200, "deleted"), deleted
    return str(deleted["reference"])


async def the_ride_is_a_debt_of_the_pseudonym(world: World, pseudonym: str, operator: str) -> None:
    pg = world.pg
    journey = await pg.fetchrow("SELECT * FROM journeys WHERE operator = $1", operator)
    assert journey is not None
    assert journey["user_id"] == pseudonym
    assert journey["status"] == "completed" and journey["fare_amount"] > 0
    assert journey["charge_status"] == "pending"

    await world.services.transit.charges.charge_pending()

    journey = await pg.fetchrow("SELECT * FROM journeys WHERE id = $1", journey["id"])
    assert (journey["charge_status"], journey["charge_reference"]) == ("failed", None)  # no wallet asked
    debt = await pg.fetchrow("SELECT * FROM ride_debts WHERE journey_id = $1", journey["id"])
    assert debt is not None
    assert (debt["user_id"], debt["status"], debt["amount"], debt["currency"]) == (
        pseudonym,
        "unpaid",
        journey["fare_amount"],
        journey["fare_currency"],
    )
    assert debt["next_retry_at"] is None  # nobody to retry: no wallet is linked to a pseudonym
    assert await world.services.transit.debts.retry_due() == 0
    assert await world.services.transit.charges.charge_pending() == 0  # settled, not retried forever
    # nothing the erasure removed comes back
    user = await pg.fetchrow("SELECT * FROM users WHERE id = $1", pseudonym)
    assert user["erased_at"] is not None and user["display_name"] is None
    assert (user["wallet_currency"], user["wallet_provider"]) == (None, None)
    assert await pg.fetchval("SELECT count(*) FROM users WHERE erased_at IS NULL") == 0
    assert await pg.fetchval("SELECT count(*) FROM user_identities") == 0


async def test_a_bus_tap_scanned_before_the_erasure_and_uploaded_after_it_is_a_debt(world: World) -> None:
    ride, bus = world.ride, "shenzhen_bus"
    gate = await ride.gate(bus)
    stop = ride.stops(bus)[0]
    scanned: datetime = world.clock.now()
    before = (await ride.code("shenzhen"))["payload"]
    world.clock.advance(seconds=30)
    pseudonym = await erased(world)
    world.clock.advance(seconds=30)

    await upload_and_drain(world, gate, [uploaded_tap("bus:before", before, stop, "in", scanned)])

    assert await outcome(world.pg, "bus:before") == ("recorded", None)
    await the_ride_is_a_debt_of_the_pseudonym(world, pseudonym, bus)


async def test_a_metro_ride_scanned_before_the_erasure_and_uploaded_after_it_is_a_debt(world: World) -> None:
    ride = world.ride
    gate = await ride.gate("mtr")
    entered = world.clock.now()
    entry = (await ride.code("hong_kong"))["payload"]
    world.clock.advance(minutes=12)
    exited = world.clock.now()
    exit_ = (await ride.code("hong_kong"))["payload"]
    world.clock.advance(minutes=3)
    pseudonym = await erased(world)
    world.clock.advance(minutes=5)

    await upload_and_drain(
        world,
        gate,
        [
            uploaded_tap("mtr:in", entry, "central", "in", entered),
            uploaded_tap("mtr:out", exit_, "admiralty", "out", exited),
        ],
    )

    assert await outcome(world.pg, "mtr:in") == ("recorded", None)
    assert await outcome(world.pg, "mtr:out") == ("recorded", None)
    await the_ride_is_a_debt_of_the_pseudonym(world, pseudonym, "mtr")


async def test_a_tap_scanned_after_the_erasure_is_refused(world: World) -> None:
    """The control: the code was issued before the erasure, the tap made after it."""
    ride, bus = world.ride, "shenzhen_bus"
    gate = await ride.gate(bus)
    payload = (await ride.code("shenzhen"))["payload"]
    world.clock.advance(seconds=10)
    await erased(world)
    world.clock.advance(seconds=10)

    await upload_and_drain(
        world, gate, [uploaded_tap("bus:after", payload, ride.stops(bus)[0], "in", world.clock.now())]
    )

    assert await outcome(world.pg, "bus:after") == ("refused", "denied_account")
    assert await world.pg.fetchval("SELECT count(*) FROM journeys") == 0
