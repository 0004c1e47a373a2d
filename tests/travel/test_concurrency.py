"""Races against the real database: no seat sold twice, and a hold expiring while it is being
paid for ends as exactly one of confirmed or released."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import asyncpg

from bayaffairs.adapters.protocols import ChargeRequest, PaymentOutcome, RefundRequest
from bayaffairs.handlers.keys import SERVICES
from bayaffairs.ids import new_id
from tests.conftest import AppFactory
from tests.support import MovableClock, test_config
from tests.travel.conftest import HKID, Trip, signed_in_with_wallet

NO_WRITE_LIMIT = {"rate_limits": {"write": "0/1", "auth": "0/1"}, "database": {"pool_max": 20}}


async def unlocked_hold(pool: asyncpg.Pool, departure_id: str, user_id: str, doc_id: str) -> bool:
    """The negative control: read the free seats, then write, with nothing holding the row in
    between (what a hold would be without the conditional UPDATE). Test-only, never in the app."""
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT capacity, held, sold, fare_amount FROM travel_inventory"
            " WHERE departure_id = $1 AND fare_class = 'standard'",
            departure_id,
        )
        if row["capacity"] - row["held"] - row["sold"] < 1:
            return False
        await asyncio.sleep(0.005)  # the window every real request has between its read and write
        async with conn.transaction():
            await conn.execute(
                "UPDATE travel_inventory SET held = $2 WHERE departure_id = $1 AND fare_class = 'standard'",
                departure_id,
                row["held"] + 1,
            )
            booking_id = new_id("bkg")
            await conn.execute(
                "INSERT INTO travel_bookings (id, user_id, departure_id, carrier, fare_class, seats, status,"
                " total_amount, currency, expires_at, created_at, updated_at)"
                " VALUES ($1, $2, $3, 'hzmb_bus', 'standard', 1, 'held', $4, 'HKD', now(), now(), now())",
                booking_id,
                user_id,
                departure_id,
                row["fare_amount"],
            )
    return True


async def test_200_concurrent_holds_on_50_seats_sell_exactly_50_and_the_unlocked_race_oversells(
    make_api: AppFactory, clock: MovableClock, pg: asyncpg.Connection, database_url: str
) -> None:
    api = await make_api(test_config(NO_WRITE_LIMIT))
    rider = await signed_in_with_wallet(api, "crowd")
    _, doc = await rider.post("/v1/me/documents", HKID)
    user_id = (await rider.get("/v1/me"))[1]["id"]
    crowd = await Trip(api, rider, api.client.server.app[SERVICES], clock, pg).crowd(200)
    departures = await pg.fetch(
        "SELECT id FROM travel_departures WHERE carrier = 'hzmb_bus' AND route = 'hk_macao'"
        " AND departs_at > $1 ORDER BY departs_at LIMIT 2",
        clock.now() + timedelta(hours=2),
    )
    locked, unlocked = departures[0]["id"], departures[1]["id"]

    answers = await asyncio.gather(  # 200 people, each holding one seat
        *(
            who.post(
                "/v1/travel/bookings",
                {"departure_id": locked, "fare_class": "standard", "passengers": [{"document_id": d}]},
            )
            for who, d in crowd
        )
    )

    statuses = [s for s, _ in answers]
    assert statuses.count(201) == 50
    assert statuses.count(409) == 150
    assert {b["error"]["code"] for s, b in answers if s == 409} == {"sold_out"}
    held = await pg.fetchval("SELECT count(*) FROM travel_bookings WHERE departure_id = $1", locked)
    seats = await pg.fetchrow("SELECT capacity, held FROM travel_inventory WHERE departure_id = $1", locked)
    assert held == 50 and (seats["capacity"], seats["held"]) == (50, 50)

    # The same race, same concurrency and database, through the read-then-write path: it oversells,
    # so the race above is real and was won by the lock, not by luck.
    pool = await asyncpg.create_pool(database_url, min_size=10, max_size=20)
    try:
        await asyncio.gather(*(unlocked_hold(pool, unlocked, user_id, doc["id"]) for _ in range(200)))
    finally:
        await pool.close()
    oversold = await pg.fetchval("SELECT count(*) FROM travel_bookings WHERE departure_id = $1", unlocked)
    assert oversold > 50


class SlowWallet:
    """A wallet that takes its time to charge, so the hold can expire meanwhile."""

    def __init__(self, inner: Any, started: asyncio.Event, release: asyncio.Event) -> None:
        self.inner = inner
        self.currencies = inner.currencies
        self.started = started
        self.release = release
        self.charges: list[ChargeRequest] = []

    async def charge(self, request: ChargeRequest) -> PaymentOutcome:
        self.charges.append(request)
        self.started.set()
        await self.release.wait()
        return await self.inner.charge(request)

    async def refund(self, request: RefundRequest) -> PaymentOutcome:
        return await self.inner.refund(request)


async def test_a_hold_expiring_while_its_payment_runs_is_confirmed_and_the_sweeper_leaves_it(
    trip: Trip,
) -> None:
    departure = await trip.departure()
    _, booking = await trip.hold(departure, [await trip.document(HKID)])
    payments = trip.services.travel.payments
    real = payments.providers
    started, release = asyncio.Event(), asyncio.Event()
    wallet = SlowWallet(real("demo"), started, release)
    payments.providers = lambda _id: wallet
    paying = asyncio.create_task(trip.rider.post(f"/v1/travel/bookings/{booking['id']}/payment"))
    await started.wait()
    trip.clock.advance(minutes=11)  # the hold has expired while the wallet works
    swept = await trip.services.travel.bookings.sweep()
    release.set()
    status, paid = await paying
    assert swept == 0
    assert (status, paid["status"]) == (200, "confirmed")
    assert await trip.seats(departure) == (50, 0, 1)
    kinds = await trip.pg.fetch("SELECT kind, succeeded FROM travel_payments")
    assert [(k["kind"], k["succeeded"]) for k in kinds] == [("charge", True)]


async def test_paying_an_expired_hold_is_410_and_charges_nothing_even_racing_the_sweeper(trip: Trip) -> None:
    departure = await trip.departure()
    bookings = [
        (who, (await trip.hold(departure, [d], rider=who))[1]["id"]) for who, d in await trip.crowd(20)
    ]
    trip.clock.advance(minutes=10, seconds=1)
    answers = await asyncio.gather(
        trip.services.travel.bookings.sweep(),
        *(who.post(f"/v1/travel/bookings/{b}/payment") for who, b in bookings),
    )
    for status, body in answers[1:]:
        assert (status, body["error"]["code"]) == (410, "hold_expired")
    statuses = await trip.pg.fetch("SELECT DISTINCT status FROM travel_bookings")
    assert [s["status"] for s in statuses] == ["released"]
    assert await trip.pg.fetchval("SELECT count(*) FROM travel_payments") == 0
    assert await trip.seats(departure) == (50, 0, 0)


async def test_expiry_against_payment_ends_in_exactly_one_outcome_each_time(trip: Trip) -> None:
    """Many holds at the edge of expiry, paid for while the sweeper runs with the clock moving
    past the expiry: every booking is confirmed with one charge or released with none."""
    departure = await trip.departure()
    bookings = [
        (who, (await trip.hold(departure, [d], rider=who))[1]["id"]) for who, d in await trip.crowd(30)
    ]
    trip.clock.advance(minutes=9, seconds=59)

    async def sweep_soon() -> int:
        await asyncio.sleep(0.01)
        trip.clock.advance(seconds=2)
        return await trip.services.travel.bookings.sweep()

    await asyncio.gather(sweep_soon(), *(who.post(f"/v1/travel/bookings/{b}/payment") for who, b in bookings))
    rows = await trip.pg.fetch(
        "SELECT b.status, count(p.id) FILTER (WHERE p.kind = 'charge' AND p.succeeded) AS charges,"
        " count(p.id) FILTER (WHERE p.kind = 'refund') AS refunds"
        " FROM travel_bookings b LEFT JOIN travel_payments p ON p.booking_id = b.id GROUP BY b.id, b.status"
    )
    for row in rows:
        assert (row["status"], row["charges"], row["refunds"]) in {("confirmed", 1, 0), ("released", 0, 0)}
    confirmed = sum(1 for r in rows if r["status"] == "confirmed")
    assert await trip.seats(departure) == (50, 0, confirmed)


async def test_the_sweeper_releases_expired_holds_once_even_with_several_workers(trip: Trip) -> None:
    departure = await trip.departure()
    for who, doc in await trip.crowd(12):
        await trip.hold(departure, [doc], rider=who)
    trip.clock.advance(minutes=5)
    assert await trip.services.travel.bookings.sweep() == 0
    trip.clock.advance(minutes=6)
    other_worker = trip.api.client.server.app[SERVICES].travel.bookings
    released = await asyncio.gather(*(other_worker.sweep(batch=3) for _ in range(4)))
    assert sum(released) == 12
    assert await trip.seats(departure) == (50, 0, 0)
