"""What carriers need: cancelling a departure (typhoon signal 8) refunds every booking on it in
full or moves it, if the rider accepts, to the next departure with seats; riders are told; the
manifest and the boarding answer let staff check faces against documents."""

from __future__ import annotations

import asyncio
from datetime import timedelta, timezone
from typing import Any

from bayaffairs.adapters.protocols import Notifier
from bayaffairs.handlers.keys import WIRING
from tests.travel.conftest import HKID, HRP, Trip, hkid_number, signed_in_with_wallet
from tests.travel.test_money_races import SlowWallet

BAY_AREA = timezone(timedelta(hours=8))
TYPHOON = {"reason": "Typhoon signal 8: services suspended"}


def sent(trip: Trip) -> list[Any]:
    notifier = trip.api.client.server.app[WIRING].adapters.get("demo_notifier", Notifier)
    return list(notifier.sent)  # type: ignore[union-attr]


async def paid(
    trip: Trip, departure: str, docs: list[str], rider: Any = None, fare_class: str = "second"
) -> Any:
    status, held = await trip.hold(departure, docs, fare_class, rider=rider)
    assert status == 201, held
    status, booking = await (rider or trip.rider).post(f"/v1/travel/bookings/{held['id']}/payment")
    assert status == 200, booking
    return booking


async def test_a_cancelled_departure_refunds_every_booking_in_full_and_tells_each_rider_once(
    trip: Trip,
) -> None:
    departure = await trip.departure("xrl", "futian_wkl", hours=30)  # a 90 % tier for the rider
    family = await signed_in_with_wallet(trip.api, "family")
    confirmed = await paid(trip, departure, [await trip.document(HRP)])
    pair = await paid(
        trip,
        departure,
        [
            await trip.document({**HRP, "number": f"H1111111{i}", "holder_name": f"Kid {i}"}, family)
            for i in (1, 2)
        ],
        rider=family,
    )
    _, held = await trip.hold(
        departure, [await trip.document({**HRP, "number": "H22222222"}, family)], "second", rider=family
    )
    device = await trip.carrier_device("xrl")

    status, body = await device.post(f"/v1/carrier/departures/{departure}/cancellation", TYPHOON)

    assert status == 200, body
    assert (body["departure_id"], body["status"], body["reason"]) == (
        departure,
        "cancelled",
        TYPHOON["reason"],
    )
    assert (body["bookings"]["cancelled"], body["bookings"]["released"]) == (2, 1)
    for rider, booking in ((trip.rider, confirmed), (family, pair)):
        _, after = await rider.get(f"/v1/travel/bookings/{booking['id']}")
        assert (after["status"], after["release_reason"]) == ("cancelled", "departure_cancelled")
        assert after["refund"] == after["charge"]  # in full, whatever the tier
        assert {t["status"] for t in after["tickets"]} == {"cancelled"}
    _, released = await family.get(f"/v1/travel/bookings/{held['id']}")
    assert (released["status"], released["release_reason"]) == ("released", "departure_cancelled")
    assert await trip.seats(departure, "second") == (500, 0, 0)

    # The riders may take the next departure for a while; a rider who wants the money now says so.
    status, now = await trip.rider.post(f"/v1/travel/bookings/{confirmed['id']}/cancellation")
    assert (status, now["payment_status"]) == (200, "refunded")
    trip.clock.advance(minutes=31)
    await trip.services.travel.recovery.retry_refunds()
    _, later = await family.get(f"/v1/travel/bookings/{pair['id']}")
    assert later["payment_status"] == "refunded"

    notes = [n.notification for n in sent(trip) if (n.notification.dedupe_key or "").startswith("departure")]
    assert sorted(n.dedupe_key for n in notes) == sorted(
        f"departure_cancelled:{b['id']}" for b in (confirmed, pair, held)
    )
    assert all("Typhoon signal 8" in n.body.en for n in notes)

    # Idempotent: asked again, the same answer, nothing refunded or sent twice.
    status, again = await device.post(f"/v1/carrier/departures/{departure}/cancellation", TYPHOON)
    assert (status, again) == (200, body)
    assert len([n for n in sent(trip) if (n.notification.dedupe_key or "").startswith("departure")]) == 3
    refunds = await trip.pg.fetchval("SELECT count(*) FROM travel_refunds")
    assert refunds == 2
    status, refused = await trip.hold(
        departure, [await trip.document({**HRP, "number": "H33333333"})], "second"
    )
    assert (status, refused["error"]["code"]) == (409, "departure_cancelled")
    _, search = await trip.api.get("/v1/travel/departures?origin=futian&destination=west_kowloon&limit=100")
    assert departure not in [d["id"] for d in search["items"]]


async def test_a_rider_takes_the_move_to_the_next_departure_with_seats_instead_of_the_refund(
    trip: Trip,
) -> None:
    departure = await trip.departure(hours=5)
    booking = await paid(trip, departure, await trip.people(2), fare_class="standard")
    admin = trip.api.as_((await trip.services.credentials.issue("admin", "all")).token)
    status, _ = await admin.post(f"/v1/carrier/departures/{departure}/cancellation", TYPHOON)
    assert status == 200

    _, offered = await trip.rider.get(f"/v1/travel/bookings/{booking['id']}")
    move_to = offered["disruption"]["move_to"]
    assert move_to and move_to != departure and offered["disruption"]["reason"] == TYPHOON["reason"]
    status, moved = await trip.rider.post(f"/v1/travel/bookings/{booking['id']}/move", {})

    assert status == 200, moved
    assert (moved["status"], moved["departure_id"], moved["payment_status"]) == (
        "confirmed",
        move_to,
        "charged",
    )
    assert moved["refund"] is None and moved["disruption"] is None
    valid = [t for t in moved["tickets"] if t["status"] == "valid"]
    assert len(valid) == 2 and {t["payload"] for t in valid}.isdisjoint(
        {t["payload"] for t in booking["tickets"]}
    )
    assert await trip.seats(departure, "standard") == (50, 0, 0)
    assert await trip.seats(move_to, "standard") == (50, 0, 2)
    assert await trip.pg.fetchval("SELECT status FROM travel_refunds") == "superseded"
    status, body = await trip.rider.post(f"/v1/travel/bookings/{booking['id']}/move", {})
    assert (status, body["error"]["code"]) == (409, "move_not_available")

    trip.clock.advance(minutes=31)  # too late for the other rider: the refund has started
    other = await paid(
        trip, await trip.departure(hours=6), await trip.people(1, first=300), fare_class="standard"
    )
    await admin.post(f"/v1/carrier/departures/{other['departure_id']}/cancellation", TYPHOON)
    trip.clock.advance(minutes=31)
    await trip.services.travel.recovery.retry_refunds()
    status, body = await trip.rider.post(f"/v1/travel/bookings/{other['id']}/move", {})
    assert (status, body["error"]["code"]) == (409, "move_not_available")


async def test_a_payment_in_flight_when_its_departure_is_cancelled_ends_refunded_not_sold(trip: Trip) -> None:
    departure = await trip.departure(hours=5)
    _, held = await trip.hold(departure, await trip.people(1), "standard")
    payments = trip.services.travel.payments
    wallet = SlowWallet(payments.providers("demo"))
    payments.providers = lambda _id: wallet
    paying = asyncio.create_task(trip.rider.post(f"/v1/travel/bookings/{held['id']}/payment"))
    await wallet.started.wait()

    admin = trip.api.as_((await trip.services.credentials.issue("admin", "all")).token)
    status, body = await admin.post(f"/v1/carrier/departures/{departure}/cancellation", TYPHOON)
    wallet.release.set()
    paid_status, refused = await paying

    assert (status, body["bookings"]["paying"]) == (200, 1)  # in flight: left to its payment
    assert (paid_status, refused["error"]["code"]) == (409, "departure_cancelled")
    _, after = await trip.rider.get(f"/v1/travel/bookings/{held['id']}")
    assert (after["status"], after["release_reason"], after["tickets"]) == (
        "released",
        "departure_cancelled",
        [],
    )
    assert (after["payment_status"], after["refund"]) == ("refunded", after["charge"])
    assert await trip.seats(departure, "standard") == (50, 0, 0)


async def test_only_the_departures_carrier_or_an_admin_cancels_it(trip: Trip) -> None:
    departure = await trip.departure()
    for who in (await trip.carrier_device("xrl"), trip.rider):
        status, body = await who.post(f"/v1/carrier/departures/{departure}/cancellation", TYPHOON)
        assert status == 403, body
    device = await trip.carrier_device()
    status, body = await device.post(f"/v1/carrier/departures/{departure}/cancellation", {})
    assert (status, body["error"]["code"]) == (400, "invalid_request")
    status, body = await device.post(
        "/v1/carrier/departures/hzmb_bus.hk_macao.20200101.0000/cancellation", TYPHOON
    )
    assert status == 404


async def test_the_manifest_lists_the_departures_passengers_with_masked_documents_for_its_carrier_only(
    trip: Trip,
) -> None:
    departure = await trip.departure(hours=0.75)
    docs = await trip.people(3)
    two = await paid(trip, departure, docs[:2], fare_class="standard")
    _, unpaid = await trip.hold(departure, docs[2:], "standard")
    device = await trip.carrier_device()
    ticket = two["tickets"][0]
    status, scan = await device.post(
        "/v1/carrier/boardings", {"payload": ticket["payload"], "departure_id": departure}
    )
    assert (status, scan["decision"]) == (200, "board")
    assert scan["passenger"] == {
        "name": "Person 0",
        "document_type": "hkid",
        "document_masked": scan["passenger"]["document_masked"],
    }
    assert "*" in scan["passenger"]["document_masked"]

    status, manifest = await device.get(f"/v1/carrier/departures/{departure}/manifest")

    assert status == 200, manifest
    rows = {p["name"]: p for p in manifest["items"]}
    assert set(rows) == {"Person 0", "Person 1"}  # confirmed passengers only
    assert rows["Person 0"]["boarding"] == "boarded" and rows["Person 1"]["boarding"] == "valid"
    assert rows["Person 0"]["ticket_id"] == ticket["id"] and rows["Person 0"]["booking_id"] == two["id"]
    assert all("*" in p["document_masked"] for p in manifest["items"])
    text = str(manifest)
    assert unpaid["id"] not in text and "C000" not in text  # no clear number anywhere
    status, body = await (await trip.carrier_device("xrl")).get(
        f"/v1/carrier/departures/{departure}/manifest"
    )
    assert (status, body["error"]["code"]) == (403, "out_of_scope")
    status, body = await trip.rider.get(f"/v1/carrier/departures/{departure}/manifest")
    assert status == 403


async def test_the_manifest_pages_by_passenger_and_a_made_up_cursor_is_a_400_not_a_500(trip: Trip) -> None:
    departure = await trip.departure(hours=0.75)
    await paid(trip, departure, await trip.people(3), fare_class="standard")
    device = await trip.carrier_device()
    base = f"/v1/carrier/departures/{departure}/manifest"

    status, first = await device.get(f"{base}?limit=2")
    assert status == 200, first
    status, rest = await device.get(f"{base}?limit=2&cursor={first['next_cursor']}")
    assert status == 200, rest
    assert [p["name"] for p in first["items"] + rest["items"]] == ["Person 0", "Person 1", "Person 2"]

    for cursor in ("abc", "bkg_x.", "bkg_x.99999999999", "bkg_x.-1"):
        status, body = await device.get(f"{base}?cursor={cursor}")
        assert (status, body["error"]["code"]) == (400, "invalid_request"), (cursor, body)


async def test_a_move_to_a_later_day_checks_the_passengers_documents_for_that_day(trip: Trip) -> None:
    """Moving is travelling on another date: a document that runs out before it cannot be
    moved there (the hold would refuse it), while the next run the same day still takes it."""
    departure = await trip.departure(hours=3)
    expires = (await trip.departs_at(departure)).astimezone(BAY_AREA).date()  # its last day
    short = {**HKID, "number": hkid_number(5), "expires": expires.isoformat()}
    booking = await paid(trip, departure, [await trip.document(short)], fare_class="standard")
    admin = trip.api.as_((await trip.services.credentials.issue("admin", "all")).token)
    status, _ = await admin.post(f"/v1/carrier/departures/{departure}/cancellation", TYPHOON)
    assert status == 200
    later = await trip.departure(hours=3 + 24)  # the next day
    move = f"/v1/travel/bookings/{booking['id']}/move"

    status, body = await trip.rider.post(move, {"departure_id": later})

    assert (status, body["error"]["code"]) == (400, "document_not_accepted"), body
    assert body["error"]["details"]["reason"] == "document_expires_before_travel"
    assert await trip.seats(later, "standard") == (50, 0, 0)
    status, moved = await trip.rider.post(move, {})  # the control: the next run today takes it
    assert (status, moved["status"]) == (200, "confirmed"), moved
