"""Taps scanned before a rider's account was erased, uploaded by an offline gate after it, are no
free ride (issue 15 item 4): they are judged by the account as it stood at the scan, recorded
under the pseudonym the erasure left, and their fare, which no wallet can be charged for any
more, is a debt of that pseudonym, without bringing back anything the erasure removed. A tap
scanned after the erasure is refused (the control)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
import pytest

from bayaffairs.transit.model import Trip
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


async def deleting(world: World) -> str:
    """Asked and confirmed: access is closed at once, but the erasure itself is left to the job
    (here the database refuses the pseudonym once, as in test_deletion.py). Returns the pseudonym."""
    await world.pg.execute(
        "ALTER TABLE users ADD CONSTRAINT no_pseudonyms CHECK (erased_at IS NULL) NOT VALID"
    )
    try:
        status, deleted = await delete(world)
    finally:
        await world.pg.execute("ALTER TABLE users DROP CONSTRAINT no_pseudonyms")
    assert (status, deleted["status"]) == (202, "deleting"), deleted
    return str(deleted["reference"])


def wallet(world: World) -> Any:
    return world.services.transit.charges.providers("demo")


def debt_charges(world: World) -> list[str]:
    """The references of the debt charges the demo wallet was asked (declined or not)."""
    return [ref for ref in wallet(world)._charges if ":debt:" in ref]


async def a_declined_ride_between_close_and_erasure(world: World, monkeypatch: pytest.MonkeyPatch) -> str:
    """A bus tap scanned before the deletion, uploaded once access is closed but before the
    erasure: the journey is still the rider's, the wallet declines it, and the debt has its
    automatic retries planned (the rider exists yet). Returns the debt's id."""
    ride, bus = world.ride, "shenzhen_bus"
    gate = await ride.gate(bus)
    scanned = world.clock.now()
    payload = (await ride.code("shenzhen"))["payload"]
    world.clock.advance(seconds=30)
    await deleting(world)
    monkeypatch.setitem(wallet(world).settings, "decline_over", 0)  # the wallet declines from now on
    await upload_and_drain(
        world, gate, [uploaded_tap("bus:closed", payload, ride.stops(bus)[0], "in", scanned)]
    )
    assert await outcome(world.pg, "bus:closed") == ("recorded", None)
    assert await world.services.transit.charges.charge_pending() == 1
    debt = await world.pg.fetchrow("SELECT * FROM ride_debts")
    assert debt["status"] == "unpaid"
    assert debt["next_retry_at"] is not None  # the control: a live account's debt is retried
    assert await world.pg.fetchval("SELECT erased_at FROM users WHERE id = $1", debt["user_id"]) is None
    return str(debt["id"])


async def no_retry_ever(world: World, debt_id: str, pseudonym: str) -> None:
    """The debt stays the pseudonym's, unpaid, and nothing ever tries to charge it again."""
    debt = await world.pg.fetchrow("SELECT * FROM ride_debts WHERE id = $1", debt_id)
    assert (debt["user_id"], debt["status"], debt["next_retry_at"]) == (pseudonym, "unpaid", None)
    asked = debt_charges(world)
    for _ in range(8):  # four days: past the whole backoff, and past "every 12 h" many times
        world.clock.advance(hours=12)
        assert await world.services.transit.debts.retry_due() == 0
    assert debt_charges(world) == asked
    debt = await world.pg.fetchrow("SELECT * FROM ride_debts WHERE id = $1", debt_id)
    assert (debt["user_id"], debt["status"], debt["next_retry_at"]) == (pseudonym, "unpaid", None)
    journey = await world.pg.fetchrow("SELECT * FROM journeys WHERE id = $1", debt["journey_id"])
    assert (journey["user_id"], journey["charge_status"]) == (pseudonym, "failed")  # owed, on the books
    user = await world.pg.fetchrow("SELECT * FROM users WHERE id = $1", pseudonym)
    assert user["erased_at"] is not None
    assert (user["wallet_currency"], user["wallet_provider"]) == (None, None)


async def test_a_debt_made_between_close_and_erasure_is_not_retried_after_the_erasure(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    debt_id = await a_declined_ride_between_close_and_erasure(world, monkeypatch)
    world.clock.advance(seconds=301)
    assert await world.services.privacy.deletion.resume_due() == 1
    pseudonym = await world.pg.fetchval("SELECT pseudonym FROM account_deletions")
    await no_retry_ever(world, debt_id, pseudonym)


async def test_a_retry_under_way_while_the_account_is_erased_plans_no_next_one(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The automatic retry claims the debt and asks the wallet; the erasure runs while the wallet
    answers (the interleaving made certain: the wallet's charge lets the deletion job run first).
    The declined try must not plan another one for the pseudonym."""
    debt_id = await a_declined_ride_between_close_and_erasure(world, monkeypatch)
    deletion = world.services.privacy.deletion
    charge = wallet(world).charge
    erased_meanwhile: list[int] = []

    async def erasure_during_the_charge(request: Any) -> Any:
        if ":debt:" in request.reference and not erased_meanwhile:
            erased_meanwhile.append(await deletion.resume_due())
            status = await world.pg.fetchval("SELECT status FROM ride_debts WHERE id = $1", debt_id)
            assert status == "paying"  # the erasure met the claimed debt
        return await charge(request)

    monkeypatch.setattr(wallet(world), "charge", erasure_during_the_charge)
    world.clock.advance(hours=12)
    assert await world.services.transit.debts.retry_due() == 1
    assert erased_meanwhile == [1]
    pseudonym = await world.pg.fetchval("SELECT pseudonym FROM account_deletions")
    await no_retry_ever(world, debt_id, pseudonym)


@pytest.mark.parametrize(
    ("category", "operator", "city", "entry", "exit_"),
    [
        ("elderly", "mtr", "hong_kong", "central", "admiralty"),  # record_scans(): priced at the exit
        ("child", "shenzhen_bus", "shenzhen", None, None),  # a flat tap-in priced set-wise
    ],
)
async def test_a_concession_riders_tap_uploaded_after_the_erasure_keeps_the_riders_category(
    world: World, category: str, operator: str, city: str, entry: str | None, exit_: str | None
) -> None:
    """The category a tap was scanned under prices it, after the erasure as before: the pseudonym
    keeps the rider's category (a category alone names nobody), not `adult`."""
    ride = world.ride
    await world.api.sign_in("privacy-rider", category=category)
    gate = await ride.gate(operator)
    entry = entry or ride.stops(operator)[0]
    entered = world.clock.now()
    taps = [uploaded_tap("c:in", (await ride.code(city))["payload"], entry, "in", entered)]
    if exit_ is not None:
        world.clock.advance(minutes=12)
        taps.append(
            uploaded_tap("c:out", (await ride.code(city))["payload"], exit_, "out", world.clock.now())
        )
    world.clock.advance(minutes=3)
    pseudonym = await erased(world)
    world.clock.advance(minutes=5)

    await upload_and_drain(world, gate, taps)

    fares = ride.operator(operator).fares
    concession = fares.fare(Trip(entry, exit_, entered, category=category)).amount.amount
    adult = fares.fare(Trip(entry, exit_, entered, category="adult")).amount.amount
    assert 0 < concession < adult  # the two differ, so the test tells them apart
    journey = await world.pg.fetchrow("SELECT * FROM journeys WHERE operator = $1", operator)
    assert (journey["user_id"], journey["category"], journey["fare_amount"]) == (
        pseudonym,
        category,
        concession,
    )
    await the_ride_is_a_debt_of_the_pseudonym(world, pseudonym, operator)
    assert await world.pg.fetchval("SELECT category FROM users WHERE id = $1", pseudonym) == category
