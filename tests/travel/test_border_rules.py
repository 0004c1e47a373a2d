"""The rules riders meet at the border, through the API: documents per crossing, direction and
holder; one person, one seat per departure; a rider's unpaid bookings capped; sales closing
before departure and nothing sold after it."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import asyncpg

from tests.support import A_YEAR_AHEAD, FAR_AHEAD
from tests.travel.conftest import HRP, PERMIT, FlakyCarrier, Trip, signed_in_with_wallet

CN_PASSPORT = {
    "type": "passport",
    "holder_name": "Wang Fang",
    "number": "E12345678",
    "issuing": "CN",
    "expires": FAR_AHEAD,
}
US_PASSPORT = {**CN_PASSPORT, "holder_name": "Jane Doe", "number": "567890123", "issuing": "US"}


async def departs_and_arrives(trip: Trip, departure: str) -> Any:
    return await trip.pg.fetchrow(
        "SELECT departs_at, arrives_at FROM travel_departures WHERE id = $1", departure
    )


def refusal(body: Any) -> tuple[str, str]:
    return body["error"]["code"], body["error"]["details"].get("reason", "")


async def test_hong_kong_residents_go_home_from_the_mainland_with_their_home_return_permit(
    trip: Trip,
) -> None:
    home = await trip.departure("xrl", "futian_wkl")
    status, booking = await trip.hold(home, [await trip.document(HRP)], "second")
    assert (status, booking["status"]) == (201, "held"), booking
    macao_resident = await trip.document({**HRP, "number": "M12345678", "holder_name": "Lei Ka Man"})
    status, body = await trip.hold(home, [macao_resident], "second")
    assert (status, refusal(body)) == (
        400,
        ("document_not_accepted", "home_return_permit_of_mo_residents_not_accepted_for_cn_to_hk"),
    )


async def test_a_mainland_resident_needs_an_endorsement_for_the_destination_with_entries_left(
    trip: Trip,
) -> None:
    await trip.rider.post("/v1/me/consents", {"destination": "HK", "purpose": "travel_booking"})
    departure = await trip.departure("xrl", "futian_wkl")
    today = trip.clock.today()  # in Hong Kong
    used_up = {
        **PERMIT,
        "endorsements": [{"type": "G", "destination": "HK", "expires": A_YEAR_AHEAD, "entries": 0}],
    }
    lapsed = {  # ends the day before travel
        **PERMIT,
        "number": "C87654321",
        "endorsements": [
            {
                "type": "G",
                "destination": "HK",
                "expires": (today - timedelta(days=1)).isoformat(),
                "entries": 1,
            }
        ],
    }
    status, body = await trip.hold(departure, [await trip.document(used_up)], "second")
    assert (status, refusal(body)) == (
        400,
        ("document_not_accepted", "no_entries_left_on_endorsement_for_hk"),
    )
    status, body = await trip.hold(departure, [await trip.document(lapsed)], "second")
    assert (status, refusal(body)) == (400, ("document_not_accepted", "no_valid_endorsement_for_hk"))
    status, body = await trip.hold(
        departure, [await trip.document({**PERMIT, "number": "C11223344"})], "second"
    )
    assert status == 201, body


async def test_shekou_to_skypier_needs_an_onward_flight_and_no_hong_kong_entry_document(trip: Trip) -> None:
    departure = await trip.departure("shekou_ferry", "shekou_airport")
    times = await departs_and_arrives(trip, departure)
    passport = await trip.document(CN_PASSPORT)
    body: dict[str, Any] = {
        "departure_id": departure,
        "fare_class": "economy",
        "passengers": [{"document_id": passport}],
    }

    status, refused = await trip.rider.post("/v1/travel/bookings", body)
    assert (status, refusal(refused)) == (400, ("document_not_accepted", "onward_flight_required"))

    flight = {"number": "CX251", "departs_at": (times["arrives_at"] + timedelta(hours=3)).isoformat()}
    body["passengers"][0]["onward_flight"] = flight
    status, booking = await trip.rider.post("/v1/travel/bookings", body)
    assert status == 201, booking
    assert booking["passengers"][0]["onward_flight"]["number"] == "CX251"

    too_late = {"number": "CX251", "departs_at": (times["arrives_at"] + timedelta(hours=30)).isoformat()}
    status, refused = await trip.rider.post(
        "/v1/travel/bookings",
        {
            "departure_id": await trip.departure("shekou_ferry", "shekou_airport", hours=6),
            "fare_class": "economy",
            "passengers": [{"document_id": passport, "onward_flight": too_late}],
        },
    )
    assert (status, refusal(refused)) == (400, ("document_not_accepted", "onward_flight_not_within_24_hours"))
    status, refused = await trip.rider.post(
        "/v1/travel/bookings",
        {
            **body,
            "passengers": [{"document_id": passport, "onward_flight": {**flight, "number": "not a flight"}}],
        },
    )
    assert (status, refused["error"]["code"]) == (400, "invalid_request")


async def test_a_visitor_from_abroad_enters_the_mainland_in_transit_with_an_onward_flight(trip: Trip) -> None:
    departure = await trip.departure("xrl", "wkl_futian")
    times = await departs_and_arrives(trip, departure)
    passport = await trip.document(US_PASSPORT)
    status, body = await trip.hold(departure, [passport], "second")
    assert (status, refusal(body)) == (400, ("document_not_accepted", "visa_required_for_cn"))
    onward = {"number": "UA862", "departs_at": (times["arrives_at"] + timedelta(hours=100)).isoformat()}
    status, booking = await trip.rider.post(
        "/v1/travel/bookings",
        {
            "departure_id": departure,
            "fare_class": "second",
            "passengers": [{"document_id": passport, "onward_flight": onward}],
        },
    )
    assert status == 201, booking


async def test_a_document_holds_one_seat_per_departure_across_bookings_and_riders(trip: Trip) -> None:
    departure, later = await trip.departure(), await trip.departure(hours=5)
    (mine,) = await trip.people(1)
    status, first = await trip.hold(departure, [mine])
    assert status == 201, first

    status, body = await trip.hold(departure, [mine])
    assert (status, body["error"]["code"], body["error"]["details"]) == (
        409,
        "passenger_already_booked",
        {"passenger": 0, "document_id": mine},
    )
    # The message counts from 1 and names the index it means, which details give from 0.
    assert "Passenger 1 (passengers.0)" in body["error"]["message"]
    relative = await signed_in_with_wallet(trip.api, "relative")
    same_person = (await trip.people(1, relative))[0]  # the same HKID, added by another rider
    status, body = await trip.hold(departure, [same_person], rider=relative)
    assert (status, body["error"]["code"]) == (409, "passenger_already_booked")
    assert (await trip.hold(later, [same_person], rider=relative))[0] == 201  # another departure

    await trip.rider.post(f"/v1/travel/bookings/{first['id']}/cancellation")
    status, body = await trip.hold(departure, [same_person], rider=relative)
    assert (status, body["status"]) == (201, "held")  # the seat was let go of: the person may book
    assert await trip.seats(departure) == (50, 1, 0)


async def test_one_document_raced_through_twenty_riders_and_both_classes_gets_one_seat(
    trip: Trip, database_url: str
) -> None:
    departure = await trip.departure("xrl", "wkl_futian")
    riders = [await signed_in_with_wallet(trip.api, f"twin-{i}") for i in range(20)]
    # Every rider holds the same Home Return Permit (one person) as a document of their own.
    docs = [await trip.document(HRP, rider=r) for r in riders]

    answers = await asyncio.gather(
        *(
            trip.hold(departure, [d], "second" if i % 2 else "first", rider=r)
            for i, (r, d) in enumerate(zip(riders, docs, strict=True))
        )
    )

    statuses = sorted(s for s, _ in answers)
    assert statuses == [201] + [409] * 19
    assert {b["error"]["code"] for s, b in answers if s == 409} == {"passenger_already_booked"}
    active = await trip.pg.fetchval(
        "SELECT count(*) FROM travel_passengers WHERE departure_id = $1 AND active", departure
    )
    assert active == 1

    # The negative control: the same twenty at once, each checking whether the person already
    # holds a seat and then writing, with nothing held in between: they all find it free.
    other = await trip.departure("xrl", "wkl_futian", hours=6)
    pool = await asyncpg.create_pool(database_url, min_size=5, max_size=20)
    fingerprint = await trip.pg.fetchval("SELECT number_fingerprint FROM documents WHERE id = $1", docs[0])

    async def check_then_write() -> bool:
        async with pool.acquire() as conn:
            seen = await conn.fetchval(
                "SELECT count(*) FROM travel_passengers"
                " WHERE departure_id = $1 AND active AND fingerprint = $2",
                other,
                fingerprint,
            )
            await asyncio.sleep(0.005)  # the gap every request has between its read and its write
            return int(seen) == 0

    try:
        found_free = await asyncio.gather(*(check_then_write() for _ in range(20)))
    finally:
        await pool.close()
    assert sum(found_free) > 1  # without the lock, several would have taken the seat


async def test_a_rider_has_at_most_max_active_holds_unpaid_bookings_even_when_racing(
    trip: Trip, database_url: str
) -> None:
    limit = trip.services.travel.settings.max_active_holds
    departures = [await trip.departure(hours=3 + i) for i in range(12)]
    (doc,) = await trip.people(1)

    answers = await asyncio.gather(*(trip.hold(d, [doc]) for d in departures))

    assert sorted(s for s, _ in answers) == [201] * limit + [409] * (12 - limit)
    assert {b["error"]["code"] for s, b in answers if s == 409} == {"too_many_holds"}
    assert {b["error"]["details"]["max_active_holds"] for s, b in answers if s == 409} == {limit}
    held = [b for s, b in answers if s == 201]
    status, paid = await trip.rider.post(f"/v1/travel/bookings/{held[0]['id']}/payment")
    assert status == 200, paid  # a paid booking is no longer an unpaid one
    free = next(d for d, (s, _) in zip(departures, answers, strict=True) if s == 409)
    assert (await trip.hold(free, [doc]))[0] == 201

    # The negative control: counting the rider's unpaid bookings, then writing, unlocked, lets
    # every one of twelve concurrent requests see room.
    user_id = (await trip.rider.get("/v1/me"))[1]["id"]
    pool = await asyncpg.create_pool(database_url, min_size=5, max_size=12)

    async def count_then_write() -> bool:
        async with pool.acquire() as conn:
            unpaid = await conn.fetchval(
                "SELECT count(*) FROM travel_bookings WHERE user_id = $1 AND status IN ('held', 'paying')",
                user_id,
            )
            await asyncio.sleep(0.005)
            return int(unpaid) < limit + 1

    try:
        room = await asyncio.gather(*(count_then_write() for _ in range(12)))
    finally:
        await pool.close()
    assert sum(room) > 1


async def test_holds_and_payments_close_at_the_carriers_cutoff(trip: Trip) -> None:
    """XRL closes sales 45 minutes before departure (gba.md); a hold made before it cannot be
    paid for after it, and is let go of."""
    departure = await trip.departure("xrl", "futian_wkl", hours=50 / 60)
    times = await departs_and_arrives(trip, departure)
    trip.clock.set(times["departs_at"] - timedelta(minutes=46))
    status, booking = await trip.hold(departure, [await trip.document(HRP)], "second")
    assert status == 201, booking

    trip.clock.advance(minutes=1)  # 45 minutes before: closed
    status, body = await trip.rider.post(f"/v1/travel/bookings/{booking['id']}/payment")
    assert (status, body["error"]["code"]) == (409, "sales_closed")
    status, body = await trip.hold(departure, await trip.people(1), "second")
    assert (status, body["error"]["code"]) == (409, "sales_closed")
    _, after = await trip.rider.get(f"/v1/travel/bookings/{booking['id']}")
    assert (after["status"], after["release_reason"], after["charge"]) == ("released", "sales_closed", None)
    assert await trip.pg.fetchval("SELECT count(*) FROM travel_payments") == 0
    assert await trip.seats(departure, "second") == (500, 0, 0)


async def test_a_payment_resumed_after_the_departure_left_refunds_instead_of_selling(
    flaky: tuple[Trip, FlakyCarrier],
) -> None:
    trip, carrier = flaky
    departure = await trip.departure(hours=0.5)
    _, booking = await trip.hold(departure, [(await trip.people(1))[0]])
    carrier.faults["confirm"] = ["error"]
    path = f"/v1/travel/bookings/{booking['id']}/payment"
    assert (await trip.rider.post(path))[0] == 504  # charged; the carrier's answer is unknown

    trip.clock.set((await departs_and_arrives(trip, departure))["departs_at"])  # the bus has left
    status, body = await trip.rider.post(path)

    assert (status, body["error"]["code"], body["error"]["details"]["reason"]) == (
        409,
        "carrier_refused",
        "departed",
    )
    _, after = await trip.rider.get(f"/v1/travel/bookings/{booking['id']}")
    assert (after["status"], after["tickets"], after["payment_status"]) == ("released", [], "refunded")
    assert [c for c in carrier.calls if c[0] == "confirm"] == [("confirm", booking["id"])]  # not asked again
