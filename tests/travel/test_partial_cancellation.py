"""Cancelling one passenger of a paid booking: their ticket void, their seat back on sale, their
share refunded by the carrier's tiers, the carrier told; the others travel."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from tests.travel.conftest import HRP, Remote, Trip, signed_in_with_wallet

SECOND = 8000  # XRL West Kowloon - Futian, second class, HK cents


async def two_passengers(trip: Trip, hours: float = 30) -> Any:
    departure = await trip.departure("xrl", "futian_wkl", hours=hours)
    docs = [
        await trip.document({**HRP, "number": f"H1234567{i}", "holder_name": f"Chan {i}"}) for i in (1, 2)
    ]
    _, held = await trip.hold(departure, docs, "second")
    status, paid = await trip.rider.post(f"/v1/travel/bookings/{held['id']}/payment")
    assert status == 200, paid
    return paid


def cancel_path(booking: Any, passenger: int) -> str:
    passenger_id = booking["passengers"][passenger]["id"]
    return f"/v1/travel/bookings/{booking['id']}/passengers/{passenger_id}/cancellation"


async def test_one_passenger_is_refunded_by_the_tiers_and_the_other_still_travels(trip: Trip) -> None:
    paid = await two_passengers(trip)  # 30 hours ahead: the 90 % tier
    assert paid["charge"] == {"amount": 2 * SECOND, "currency": "HKD"}

    status, after = await trip.rider.post(cancel_path(paid, 1))

    assert status == 200, after
    assert (after["status"], [p["status"] for p in after["passengers"]]) == (
        "confirmed",
        ["active", "cancelled"],
    )
    assert sorted((t["position"], t["status"]) for t in after["tickets"]) == [(0, "valid"), (1, "cancelled")]
    assert (after["refund"], after["payment_status"]) == (
        {"amount": SECOND * 90 // 100, "currency": "HKD"},
        "refunded",
    )
    assert await trip.seats(after["departure_id"], "second") == (500, 0, 1)
    status, body = await trip.rider.post(cancel_path(paid, 1))
    assert (status, body["error"]["code"]) == (409, "booking_not_cancellable")

    status, whole = await trip.rider.post(f"/v1/travel/bookings/{paid['id']}/cancellation")
    assert (status, whole["status"]) == (200, "cancelled")
    assert whole["refund"] == {"amount": 2 * (SECOND * 90 // 100), "currency": "HKD"}  # never more than paid
    assert await trip.seats(after["departure_id"], "second") == (500, 0, 0)
    rows = await trip.pg.fetch(
        "SELECT amount FROM travel_payments WHERE kind = 'refund' AND succeeded ORDER BY created_at"
    )
    assert [r["amount"] for r in rows] == [7200, 7200]


async def test_cancelling_the_last_passenger_cancels_the_booking(trip: Trip) -> None:
    paid = await two_passengers(trip)
    await trip.rider.post(cancel_path(paid, 0))
    status, after = await trip.rider.post(cancel_path(paid, 1))
    assert (status, after["status"], after["refund"]["amount"]) == (
        200,
        "cancelled",
        2 * (SECOND * 90 // 100),
    )
    assert {t["status"] for t in after["tickets"]} == {"cancelled"}


async def test_a_boarded_passenger_is_not_cancelled_and_nobody_else_cancels_anyone(trip: Trip) -> None:
    paid = await two_passengers(trip, hours=2)
    departs_at = await trip.pg.fetchval(
        "SELECT departs_at FROM travel_departures WHERE id = $1", paid["departure_id"]
    )
    trip.clock.set(departs_at - timedelta(minutes=50))  # boarding is open
    device = await trip.carrier_device("xrl")
    body = {"payload": paid["tickets"][0]["payload"], "departure_id": paid["departure_id"]}
    assert (await device.post("/v1/carrier/boardings", body))[1]["decision"] == "board"
    status, refused = await trip.rider.post(cancel_path(paid, 0))
    assert (status, refused["error"]["code"], refused["error"]["details"]["reason"]) == (
        409,
        "booking_not_cancellable",
        "boarded",
    )
    stranger = await signed_in_with_wallet(trip.api, "stranger")
    assert (await stranger.post(cancel_path(paid, 1)))[0] == 404
    status, body = await trip.rider.post(
        f"/v1/travel/bookings/{paid['id']}/passengers/{paid['id']}.7/cancellation"
    )
    assert (status, body["error"]["code"]) == (404, "passenger_not_found")
    status, ok = await trip.rider.post(cancel_path(paid, 1))
    assert (status, [p["status"] for p in ok["passengers"]]) == (200, ["active", "cancelled"])


async def test_the_remote_carrier_is_told_which_passenger_goes(remote: Remote) -> None:
    trip, carrier = remote.trip, remote.carrier
    departure = await trip.departure("turbojet", "sheung_wan_macao", hours=30)
    docs = await trip.people(2)
    _, held = await remote.hold(departure, docs)
    status, paid = await trip.rider.post(f"/v1/travel/bookings/{held['id']}/payment")
    assert status == 200, paid
    assert carrier.seats_sold(departure) == 2

    status, after = await trip.rider.post(cancel_path(paid, 0))

    assert status == 200, after
    assert (carrier.made["cancel_passengers"], carrier.seats_sold(departure)) == (1, 1)
    assert carrier.holds[paid["id"]].cancelled == [paid["passengers"][0]["id"]]
    assert await remote.seats(departure) == (400, 0, 1)


async def test_two_passengers_cancelled_at_once_cancel_the_booking_once_with_no_error(trip: Trip) -> None:
    """Both passengers of a booking cancelled in two requests at the same moment: each request
    saw the other passenger still travelling; the second must end the booking, not fail."""
    paid = await two_passengers(trip)
    lock = trip.pg.transaction()
    await lock.start()
    await trip.pg.execute("SELECT 1 FROM travel_tickets WHERE booking_id = $1 FOR UPDATE", paid["id"])
    both = asyncio.gather(trip.rider.post(cancel_path(paid, 0)), trip.rider.post(cancel_path(paid, 1)))
    waiting = 0
    for _ in range(500):  # both past their first look and waiting on the tickets: the race is on
        await trip.pg.execute("SELECT pg_stat_clear_snapshot()")  # a fresh look, in this transaction
        waiting = await trip.pg.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock'"
        )
        if waiting == 2:
            break
        await asyncio.sleep(0.01)
    assert waiting == 2, "\n".join(
        str(tuple(r)).replace("\n", " ")
        for r in await trip.pg.fetch(
            "SELECT state, wait_event_type, wait_event, left(query, 100) AS q FROM pg_stat_activity"
            " WHERE datname = current_database()"
        )
    )
    await lock.rollback()
    answers = await both

    assert [status for status, _ in answers] == [200, 200], answers
    _, after = await trip.rider.get(f"/v1/travel/bookings/{paid['id']}")
    assert (after["status"], {t["status"] for t in after["tickets"]}) == ("cancelled", {"cancelled"})
    assert await trip.seats(after["departure_id"], "second") == (500, 0, 0)
    rows = await trip.pg.fetch("SELECT amount FROM travel_payments WHERE kind = 'refund' AND succeeded")
    assert sorted(r["amount"] for r in rows) == [7200, 7200]  # each share once, by the tier
