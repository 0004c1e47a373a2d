"""Group commit of holds against the real database: holds arriving together share one
transaction, seats go in arrival order while they fit, and two processes' queues never
oversell one departure."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bayaffairs.db.queries import travel_bookings as q
from bayaffairs.ids import new_id
from bayaffairs.travel.holding import Held, HoldQueue, first_fit
from tests.travel.conftest import Trip


def _request(
    trip: Trip, user_id: str, departure_id: str, seats: int
) -> tuple[q.BookingRow, list[q.PassengerRow]]:
    now = trip.clock.now()
    row = q.BookingRow(
        id=new_id("bkg"),
        user_id=user_id,
        departure_id=departure_id,
        carrier="hzmb_bus",
        fare_class="standard",
        seats=seats,
        status="held",
        release_reason=None,
        total_amount=0,
        currency="HKD",
        expires_at=now + timedelta(minutes=10),
        carrier_reference=None,
        created_at=now,
        updated_at=now,
    )
    passengers = [q.PassengerRow(row.id, i, f"doc_{i}", "hkid", "Chan Tai Man") for i in range(seats)]
    return row, passengers


def queue(trip: Trip, *, durable: bool = True) -> HoldQueue:
    """A group commit that lets one rider hold as much as the seats allow (these tests are
    about seats, not about riders' limits)."""
    return HoldQueue(trip.services.travel.bookings.db, durable=durable, max_active=1000)


def fare_class_fare(fare: int, passenger: q.PassengerRow) -> int:
    return fare


async def _user_id(trip: Trip) -> str:
    return str((await trip.rider.get("/v1/me"))[1]["id"])


async def _with_capacity(trip: Trip, capacity: int) -> str:
    departure = await trip.departure()
    await trip.pg.execute(
        "UPDATE travel_inventory SET capacity = $2 WHERE departure_id = $1 AND fare_class = 'standard'",
        departure,
        capacity,
    )
    return departure


async def _held_ids(trip: Trip, departure: str) -> set[str]:
    rows = await trip.pg.fetch("SELECT id FROM travel_bookings WHERE departure_id = $1", departure)
    return {r["id"] for r in rows}


def test_first_fit_serves_requests_in_arrival_order_while_they_fit() -> None:
    assert first_fit(3, [1, 1, 1, 1, 1]) == [True, True, True, False, False]
    assert first_fit(5, [2, 4, 2, 1, 1]) == [True, False, True, True, False]
    assert first_fit(0, [1]) == [False]


async def test_a_batch_that_only_partly_fits_gives_the_last_seats_to_the_earliest_requests(
    trip: Trip,
) -> None:
    departure = await _with_capacity(trip, 3)
    user_id = await _user_id(trip)
    holds = queue(trip)
    requests = [_request(trip, user_id, departure, 1) for _ in range(8)]

    outcomes = await asyncio.gather(*(holds.hold(row, ps, fare_class_fare) for row, ps in requests))

    assert holds.batches == 1  # all eight arrived together: one transaction
    assert [isinstance(o, Held) for o in outcomes] == [True] * 3 + [False] * 5
    assert await _held_ids(trip, departure) == {row.id for row, _ in requests[:3]}
    assert await trip.seats(departure) == (3, 3, 0)
    passengers = await trip.pg.fetchval(
        "SELECT count(*) FROM travel_passengers p JOIN travel_bookings b ON b.id = p.booking_id"
        " WHERE b.departure_id = $1",
        departure,
    )
    assert passengers == 3


async def test_a_partly_fitting_batch_of_several_seats_each_is_served_as_one_by_one_in_order(
    trip: Trip,
) -> None:
    departure = await _with_capacity(trip, 5)
    user_id = await _user_id(trip)
    holds = queue(trip)
    requests = [_request(trip, user_id, departure, n) for n in (2, 4, 2, 1, 1)]

    outcomes = await asyncio.gather(*(holds.hold(row, ps, fare_class_fare) for row, ps in requests))

    assert holds.batches == 1
    assert [isinstance(o, Held) for o in outcomes] == [True, False, True, True, False]
    fare = await trip.pg.fetchval(
        "SELECT fare_amount FROM travel_inventory WHERE departure_id = $1", departure
    )
    assert await _held_ids(trip, departure) == {requests[i][0].id for i in (0, 2, 3)}
    totals = await trip.pg.fetch(
        "SELECT seats, total_amount FROM travel_bookings WHERE departure_id = $1", departure
    )
    assert sorted((r["seats"], r["total_amount"]) for r in totals) == sorted((n, fare * n) for n in (2, 2, 1))
    assert await trip.seats(departure) == (5, 5, 0)


async def test_two_processes_queues_racing_on_one_departure_never_oversell(trip: Trip) -> None:
    departure = await trip.departure()  # 50 seats
    user_id = await _user_id(trip)
    workers = [queue(trip), queue(trip, durable=False)]
    requests = [_request(trip, user_id, departure, 1) for _ in range(200)]

    outcomes = await asyncio.gather(
        *(workers[i % 2].hold(row, ps, fare_class_fare) for i, (row, ps) in enumerate(requests))
    )

    assert sum(isinstance(o, Held) for o in outcomes) == 50
    assert workers[0].batches >= 1 and workers[1].batches >= 1
    assert len(await _held_ids(trip, departure)) == 50
    assert await trip.seats(departure) == (50, 50, 0)


async def test_holds_through_the_api_still_check_documents_before_holding(trip: Trip) -> None:
    departure = await _with_capacity(trip, 1)
    status, body = await trip.hold(departure, ["doc_missing"])
    assert status == 400, body
    doc, other = await trip.people(2)
    status, booking = await trip.hold(departure, [doc])
    assert (status, booking["status"]) == (201, "held")
    status, body = await trip.hold(departure, [other])
    assert (status, body["error"]["code"]) == (409, "sold_out")
    assert await trip.seats(departure) == (1, 1, 0)
