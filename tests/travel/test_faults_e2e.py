"""The remote carrier (TurboJET over HTTP, played by FakeCarrier) and the wallet gateway (over
HTTP, played by FakeGateway) failing, refusing or answering too late during hold and confirm,
through the real app: no phantom seat on either side, no charge left standing, and a retry with
the same Idempotency-Key finishes the job."""

from __future__ import annotations

import pytest

from tests.travel.conftest import HKID, Remote


async def test_a_hold_the_carrier_answers_too_late_is_504_released_on_both_sides_and_a_retry_books(
    remote: Remote,
) -> None:
    trip, carrier = remote.trip, remote.carrier
    departure = await remote.departure()
    doc = await trip.document(HKID)
    carrier.delay("hold", 1.0)  # the carrier holds, then answers after we gave up (0.3 s)
    key = {"Idempotency-Key": "late-hold"}

    got, body = await remote.hold(departure, [doc], headers=key)

    assert (got, body["error"]["code"]) == (504, "carrier_timeout")
    assert await remote.seats(departure) == (400, 0, 0)
    assert await trip.pg.fetchval("SELECT array_agg(DISTINCT status) FROM travel_bookings") == ["released"]
    assert (carrier.made["hold"], carrier.seats_sold(departure)) == (1, 0)
    trip.clock.advance(seconds=1)  # the given-up hold's request can no longer be in flight
    assert await trip.services.travel.recovery.release_given_up_holds() == 1
    assert (carrier.made["release"], carrier.seats_taken(departure)) == (1, 0)

    carrier.delay("hold", 0)
    got, booking = await remote.hold(departure, [doc], headers=key)
    assert (got, booking["status"]) == (201, "held")  # the 504 was not kept as the key's answer
    assert await remote.hold(departure, [doc], headers=key) == (201, booking)
    assert await trip.pg.fetchval("SELECT count(*) FROM travel_bookings WHERE status = 'held'") == 1
    assert await remote.seats(departure) == (400, 1, 0)
    assert (carrier.seats_held(departure), carrier.seats_sold(departure)) == (1, 0)
    assert sorted(h.state for h in carrier.holds.values()) == ["held", "released"]
    assert carrier.holds[booking["id"]].state == "held"


async def test_a_carrier_refusing_a_hold_as_sold_out_is_409_with_no_seat_on_either_side(
    remote: Remote,
) -> None:
    trip, carrier = remote.trip, remote.carrier
    departure = await remote.departure()
    carrier.refuse_next("hold", "sold_out")

    got, body = await remote.hold(departure, [await trip.document(HKID)])

    assert (got, body["error"]["code"]) == (409, "carrier_refused")
    assert await remote.seats(departure) == (400, 0, 0)
    assert (carrier.made["hold"], carrier.seats_taken(departure)) == (0, 0)
    assert await trip.pg.fetchval("SELECT array_agg(DISTINCT status) FROM travel_bookings") == ["released"]


@pytest.mark.parametrize(("fault", "status"), [("fail", 502), ("stall", 504)])
async def test_a_confirmation_the_carrier_fails_leaves_no_charge_and_a_retry_with_the_key_confirms(
    remote: Remote, fault: str, status: int
) -> None:
    trip, carrier, gateway = remote.trip, remote.carrier, remote.gateway
    departure = await remote.departure()
    got, booking = await remote.hold(departure, [await trip.document(HKID)])
    assert got == 201, booking
    if fault == "fail":
        carrier.fail_next("confirm", 503)
    else:
        carrier.stall_next("confirm")  # hangs past our 0.3 s, doing nothing
    key = {"Idempotency-Key": f"pay-{fault}"}
    path = f"/v1/travel/bookings/{booking['id']}/payment"

    got, body = await trip.rider.post(path, headers=key)

    assert got == status, body
    assert (gateway.made["charge"], gateway.made["refund"], gateway.charged_total()) == (1, 1, 0)
    (charged,) = [amount for kind, ok, amount in await remote.payments() if kind == "charge" and ok]
    assert await remote.payments() == [("charge", True, charged), ("refund", True, charged)]
    assert (carrier.seats_held(departure), carrier.seats_sold(departure), carrier.made["confirm"]) == (
        1,
        0,
        0,
    )
    _, after = await trip.rider.get(f"/v1/travel/bookings/{booking['id']}")
    assert (after["status"], after["tickets"]) == ("held", [])
    assert await remote.seats(departure) == (400, 1, 0)

    got, paid = await trip.rider.post(path, headers=key)

    assert (got, paid["status"], len(paid["tickets"])) == (200, "confirmed", 1), paid
    assert paid["charge"] == {"amount": charged, "currency": "HKD"} and paid["refund"] is None
    assert (gateway.made["charge"], gateway.charged_total()) == (2, charged)  # one charge standing
    assert (carrier.seats_held(departure), carrier.seats_sold(departure), carrier.made["confirm"]) == (
        0,
        1,
        1,
    )
    assert await remote.seats(departure) == (400, 0, 1)
    assert carrier.holds[booking["id"]].passengers[0]["document_number"] == "A123456(3)"


async def test_a_confirmation_the_carrier_made_but_answered_too_late_is_finished_by_the_retry(
    remote: Remote,
) -> None:
    trip, carrier, gateway = remote.trip, remote.carrier, remote.gateway
    departure = await remote.departure()
    _, booking = await remote.hold(departure, [await trip.document(HKID)])
    carrier.delay("confirm", 1.0)
    key = {"Idempotency-Key": "pay-late"}
    path = f"/v1/travel/bookings/{booking['id']}/payment"

    got, _ = await trip.rider.post(path, headers=key)

    assert got == 504
    assert gateway.charged_total() == 0
    carrier.delay("confirm", 0)
    got, paid = await trip.rider.post(path, headers=key)
    assert (got, paid["status"], len(paid["tickets"])) == (200, "confirmed", 1)
    assert gateway.charged_total() == paid["charge"]["amount"]
    assert (carrier.made["confirm"], carrier.seats_sold(departure), carrier.seats_held(departure)) == (
        1,
        1,
        0,
    )
    assert await remote.seats(departure) == (400, 0, 1)


async def test_a_charge_the_gateway_fails_moves_no_money_and_keeps_the_hold(remote: Remote) -> None:
    trip, carrier, gateway = remote.trip, remote.carrier, remote.gateway
    departure = await remote.departure()
    _, booking = await remote.hold(departure, [await trip.document(HKID)])
    gateway.fail_next("charge", 503)
    key = {"Idempotency-Key": "pay-gateway-down"}
    path = f"/v1/travel/bookings/{booking['id']}/payment"

    got, _ = await trip.rider.post(path, headers=key)

    assert got == 502
    assert (gateway.charged_total(), await remote.payments(), carrier.made["confirm"]) == (0, [], 0)
    got, paid = await trip.rider.post(path, headers=key)
    assert (got, paid["status"]) == (200, "confirmed")
    assert (gateway.made["charge"], gateway.charged_total()) == (1, paid["charge"]["amount"])
    assert carrier.seats_sold(departure) == 1
