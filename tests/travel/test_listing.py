"""`GET /v1/travel/bookings`: every booking with its own charge and refund, read in one query
for the whole page (not one per booking)."""

from __future__ import annotations

from typing import Any

from bayaffairs.db.queries import travel_bookings as q
from tests.travel.conftest import Trip


async def test_the_listing_shows_each_booking_its_own_charge_and_refund_from_one_payments_query(
    trip: Trip, monkeypatch: Any
) -> None:
    departure = await trip.departure(hours=30)
    docs = await trip.people(3)
    paid_ids = []
    for doc in docs[:2]:
        _, booking = await trip.hold(departure, [doc])
        status, paid = await trip.rider.post(f"/v1/travel/bookings/{booking['id']}/payment")
        assert status == 200, paid
        paid_ids.append(paid["id"])
    status, _ = await trip.rider.post(f"/v1/travel/bookings/{paid_ids[0]}/cancellation")
    assert status == 200
    _, held = await trip.hold(departure, [docs[2]])
    queries: list[int] = []
    original = q.payments_of

    async def counted(conn: Any, booking_ids: Any) -> Any:
        queries.append(len(booking_ids))
        return await original(conn, booking_ids)

    monkeypatch.setattr(q, "payments_of", counted)

    _, listed = await trip.rider.get("/v1/travel/bookings")

    by_id = {b["id"]: b for b in listed["items"]}
    assert [by_id[i]["status"] for i in (*paid_ids, held["id"])] == ["cancelled", "confirmed", "held"]
    assert by_id[paid_ids[0]]["refund"] == by_id[paid_ids[0]]["charge"] == {"amount": 6500, "currency": "HKD"}
    assert (by_id[paid_ids[1]]["charge"], by_id[paid_ids[1]]["refund"]) == (
        {"amount": 6500, "currency": "HKD"},
        None,
    )
    assert (by_id[held["id"]]["charge"], by_id[held["id"]]["refund"]) == (None, None)
    assert queries == [2]  # one query, for the two bookings that can have payments
