"""Paying, tickets, boarding and cancelling, end to end on the real app."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
import zxingcpp
from PIL import Image

from bayaffairs.transit.codes import base45
from bayaffairs.transit.qr import version_of
from tests.support import FAR_AHEAD
from tests.travel.conftest import HKID, Trip, hzmb_fare, signed_in_with_wallet

pytestmark = pytest.mark.at_two_instants


async def paid_booking(trip: Trip, departure: str, passengers: int = 1, rider: Any = None) -> dict[str, Any]:
    docs = [
        await trip.document({**HKID, "number": n, "holder_name": f"Passenger {i}"}, rider=rider)
        for i, n in enumerate(["A123456(3)", "B111111(1)"][:passengers])
    ]
    status, booking = await trip.hold(departure, docs, rider=rider)
    assert status == 201, booking
    status, paid = await (rider or trip.rider).post(f"/v1/travel/bookings/{booking['id']}/payment")
    assert status == 200, paid
    return paid


async def test_paying_confirms_and_issues_one_signed_ticket_per_passenger(trip: Trip) -> None:
    departure = await trip.departure()
    paid = await paid_booking(trip, departure, passengers=2)
    assert paid["status"] == "confirmed" and len(paid["tickets"]) == 2
    assert paid["charge"] == {"amount": 2 * hzmb_fare(await trip.departs_at(departure)), "currency": "HKD"}
    for ticket in paid["tickets"]:
        assert len(base45.decode(ticket["payload"])) == 90
        assert version_of(ticket["payload"]) <= 10
    status, png = await trip.rider.get(paid["tickets"][0]["png_url"])
    assert status == 200 and png.startswith(b"\x89PNG")
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)).convert("L"))
    assert decoded and decoded[0].text == paid["tickets"][0]["payload"]
    stranger = await signed_in_with_wallet(trip.api, "stranger")
    assert (await stranger.get(paid["tickets"][0]["png_url"]))[0] == 404
    assert await trip.seats(departure) == (50, 0, 2)
    again = await trip.rider.post(f"/v1/travel/bookings/{paid['id']}/payment")
    assert again == (200, paid)
    assert await trip.pg.fetchval("SELECT count(*) FROM travel_payments") == 1


async def test_the_wallet_is_charged_in_its_own_currency_at_the_stored_rate(trip: Trip) -> None:
    cny = await signed_in_with_wallet(trip.api, "shenzhener", "CNY")
    paid = await paid_booking(trip, await trip.departure(), rider=cny)
    assert paid["charge"]["currency"] == "CNY" and paid["total"]["currency"] == "HKD"
    row = await trip.pg.fetchrow("SELECT amount, fare_amount, fx_rate FROM travel_payments")
    from decimal import ROUND_HALF_UP, Decimal

    expected = int(
        (Decimal(row["fare_amount"]) * row["fx_rate"]).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    )
    assert row["amount"] == expected == paid["charge"]["amount"]


async def test_paying_an_expired_hold_is_410_and_the_seat_goes_back(trip: Trip) -> None:
    departure = await trip.departure()
    _, booking = await trip.hold(departure, [await trip.document(HKID)])
    trip.clock.advance(minutes=10, seconds=1)
    status, body = await trip.rider.post(f"/v1/travel/bookings/{booking['id']}/payment")
    assert (status, body["error"]["code"]) == (410, "hold_expired")
    assert await trip.pg.fetchval("SELECT count(*) FROM travel_payments") == 0
    assert await trip.seats(departure) == (50, 0, 0)
    _, after = await trip.rider.get(f"/v1/travel/bookings/{booking['id']}")
    assert (after["status"], after["release_reason"]) == ("released", "expired")


async def test_a_declined_charge_keeps_the_hold_and_charges_nothing(trip: Trip) -> None:
    departure = await trip.departure()
    _, booking = await trip.hold(departure, [await trip.document(HKID)])
    payments = trip.services.travel.payments
    real = payments.providers("demo")

    class Declining:
        currencies = real.currencies

        async def charge(self, request: Any) -> Any:
            outcome = await real.charge(request)
            return type(outcome)(False, outcome.provider_reference, outcome.amount, "declined")

        async def refund(self, request: Any) -> Any:
            return await real.refund(request)

    payments.providers = lambda _id: Declining()
    status, body = await trip.rider.post(f"/v1/travel/bookings/{booking['id']}/payment")
    assert (status, body["error"]["code"]) == (409, "payment_declined")
    _, after = await trip.rider.get(f"/v1/travel/bookings/{booking['id']}")
    assert after["status"] == "held" and after["charge"] is None
    assert await trip.seats(departure) == (50, 1, 0)


async def test_a_ticket_boards_once_in_the_boarding_window_and_every_denial_has_its_reason(
    trip: Trip,
) -> None:
    departure = await trip.departure()  # 3 hours from now
    other_departure = await trip.departure(hours=5)
    ticket, late = (t["payload"] for t in (await paid_booking(trip, departure, passengers=2))["tickets"])
    device = await trip.carrier_device()
    departs_at = await trip.pg.fetchval("SELECT departs_at FROM travel_departures WHERE id = $1", departure)

    async def scan(payload: str, dep: str = departure, who: Any = device) -> tuple[int, Any]:
        return await who.post("/v1/carrier/boardings", {"payload": payload, "departure_id": dep})

    first = {"name": "Passenger 0", "document_type": "hkid", "document_masked": "A*****6(3)"}
    assert (await scan(ticket))[1] == {
        "decision": "deny",
        "reason": "boarding_not_open",  # boarding opens 60 minutes before departure
        "ticket_id": ticket_id(ticket),
        "passenger": first,
    }
    trip.clock.set(departs_at - timedelta(minutes=60))
    assert (await scan(ticket))[1]["decision"] == "board"
    assert (await scan(ticket))[1] == {
        "decision": "deny",
        "reason": "already_boarded",
        "ticket_id": ticket_id(ticket),
        "passenger": first,
    }
    wrong = (await scan(ticket, other_departure))[1]
    assert (wrong["reason"], wrong["passenger"]) == ("wrong_departure", None)  # names nobody
    raw = bytearray(base45.decode(ticket))
    raw[10] ^= 1
    assert (await scan(base45.encode(bytes(raw))))[1] == {
        "decision": "deny",
        "reason": "bad_signature",
        "ticket_id": None,
        "passenger": None,
    }
    for garbage in ["", "hello", ticket[:-3], "%%%" * 10]:
        status, body = await scan(garbage)
        assert status in (200, 400), body
        if status == 200:
            assert body["reason"] == "malformed"
    trip.clock.set(departs_at)  # boarding closes at departure
    assert (await scan(late))[1] == {
        "decision": "deny",
        "reason": "departed",
        "ticket_id": ticket_id(late),
        "passenger": {**first, "name": "Passenger 1", "document_masked": "B*****1(1)"},
    }
    assert (await scan(ticket))[1]["reason"] == "already_boarded"


def ticket_id(payload: str) -> str:
    return "tkt_" + base45.decode(payload)[4:14].hex()


async def test_carriers_scan_only_their_own_departures(trip: Trip) -> None:
    departure = await trip.departure()
    ticket = (await paid_booking(trip, departure))["tickets"][0]["payload"]
    xrl_device = await trip.carrier_device("xrl")
    status, body = await xrl_device.post(
        "/v1/carrier/boardings", {"payload": ticket, "departure_id": departure}
    )
    assert (status, body["error"]["code"]) == (403, "out_of_scope")
    xrl_departure = await trip.departure("xrl", "wkl_futian")
    status, body = await xrl_device.post(
        "/v1/carrier/boardings", {"payload": ticket, "departure_id": xrl_departure}
    )
    assert (status, body["decision"], body["reason"]) == (200, "deny", "wrong_departure")
    gate = await trip.services.credentials.issue("gate", "mtr")
    status, body = await trip.api.as_(gate.token).post(
        "/v1/carrier/boardings", {"payload": ticket, "departure_id": departure}
    )
    assert (status, body["error"]["code"]) == (403, "wrong_credential_kind")
    status, body = await trip.rider.post(
        "/v1/carrier/boardings", {"payload": ticket, "departure_id": departure}
    )
    assert status == 403
    status, _ = await (await trip.carrier_device()).post(
        "/v1/carrier/boardings", {"payload": ticket, "departure_id": "hzmb_bus.hk_macao.20200101.0000"}
    )
    assert status == 404


async def test_cancelling_refunds_by_tier_returns_the_seats_and_voids_the_tickets(trip: Trip) -> None:
    early = await trip.departure("xrl", "wkl_futian", hours=30)
    docs = [
        await trip.document(
            {
                "type": "home_return_permit",
                "holder_name": "Chan",
                "number": "H12345678",
                "issuing": "CN",
                "expires": FAR_AHEAD,
            }
        )
    ]
    _, booking = await trip.hold(early, docs, "second")
    _, paid = await trip.rider.post(f"/v1/travel/bookings/{booking['id']}/payment")
    status, cancelled = await trip.rider.post(f"/v1/travel/bookings/{booking['id']}/cancellation")
    assert status == 200, cancelled
    assert cancelled["status"] == "cancelled"
    assert cancelled["refund"] == {"amount": 8000 * 90 // 100, "currency": "HKD"}  # 24-48 h before: 90 %
    assert await trip.seats(early, "second") == (500, 0, 0)
    device = await trip.carrier_device("xrl")
    status, scan = await device.post(
        "/v1/carrier/boardings", {"payload": paid["tickets"][0]["payload"], "departure_id": early}
    )
    assert (scan["decision"], scan["reason"]) == ("deny", "cancelled")
    status, again = await trip.rider.post(f"/v1/travel/bookings/{booking['id']}/cancellation")
    assert (status, again["error"]["code"]) == (409, "booking_not_cancellable")
    rows = await trip.pg.fetch(
        "SELECT kind, amount, currency, provider, charge_id FROM travel_payments ORDER BY created_at"
    )
    assert [(r["kind"], r["amount"], r["provider"]) for r in rows] == [
        ("charge", 8000, "demo"),
        ("refund", 7200, "demo"),
    ]


async def test_cancelling_late_refunds_nothing_and_a_boarded_ticket_cannot_be_cancelled(trip: Trip) -> None:
    soon = await trip.departure("huanggang_coach", "huanggang_austin", hours=0.25)
    paid = await paid_booking(trip, soon)
    trip.clock.set(await trip.departs_at(soon) - timedelta(minutes=30))  # no refund within the hour
    status, cancelled = await trip.rider.post(f"/v1/travel/bookings/{paid['id']}/cancellation")
    assert status == 200 and cancelled["refund"]["amount"] == 0
    assert (await trip.rider.get(paid["tickets"][0]["png_url"]))[0] == 410  # a void ticket's image
    second = await signed_in_with_wallet(trip.api, "second")
    boarded = await paid_booking(trip, await trip.departure(hours=0.5), rider=second)
    await (await trip.carrier_device()).post(
        "/v1/carrier/boardings",
        {"payload": boarded["tickets"][0]["payload"], "departure_id": boarded["departure_id"]},
    )
    status, body = await second.post(f"/v1/travel/bookings/{boarded['id']}/cancellation")
    assert (status, body["error"]["code"]) == (409, "booking_not_cancellable")


async def test_payments_are_append_only(trip: Trip) -> None:
    import asyncpg
    import pytest

    await paid_booking(trip, await trip.departure())
    with pytest.raises(asyncpg.RaiseError):
        await trip.pg.execute("UPDATE travel_payments SET amount = 0")
    with pytest.raises(asyncpg.RaiseError):
        await trip.pg.execute("DELETE FROM travel_payments")


async def test_cancelling_a_held_booking_releases_it(trip: Trip) -> None:
    departure = await trip.departure()
    _, booking = await trip.hold(departure, [await trip.document(HKID)])
    status, body = await trip.rider.post(f"/v1/travel/bookings/{booking['id']}/cancellation")
    assert status == 200 and body["status"] == "released"
    assert await trip.seats(departure) == (50, 0, 0)
    trip.clock.advance(minutes=1)
    assert (await trip.rider.post(f"/v1/travel/bookings/{booking['id']}/payment"))[0] == 410
    _ = timedelta
