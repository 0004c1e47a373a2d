"""The remote carrier (TurboJET over HTTP, played by FakeCarrier) and the wallet gateway (over
HTTP, played by FakeGateway) failing, refusing or answering too late during hold and confirm,
through the real app: no phantom seat on either side, a charge left standing only while the
carrier's answer is unknown, and a retry with the same Idempotency-Key (or the sweeper) reaching
the same hold or booking at the carrier and finishing the job."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.travel.conftest import CARRIER_TIMEOUT, HKID, Remote, impatient

GIVE_UP_MINUTES = 4  # payment_give_up_seconds (15 min by default): under the gateway's 5 min skew


def giving_up_sooner(remote: Remote) -> Any:
    """The sweeper, configured to give up a confirmation after GIVE_UP_MINUTES."""
    recovery = remote.trip.services.travel.recovery
    recovery.settings = dataclasses.replace(recovery.settings, payment_give_up_seconds=GIVE_UP_MINUTES * 60)
    return recovery


async def test_a_hold_the_carrier_answers_too_late_is_504_released_on_both_sides_and_a_retry_books(
    remote: Remote,
) -> None:
    trip, carrier = remote.trip, remote.carrier
    departure = await remote.departure()
    doc = await trip.document(HKID)
    carrier.hold("hold")  # the carrier holds, then answers only after we gave up
    key = {"Idempotency-Key": "late-hold"}

    async with impatient(remote):
        got, body = await remote.hold(departure, [doc], headers=key)

    assert (got, body["error"]["code"]) == (504, "carrier_timeout")
    assert await remote.seats(departure) == (400, 0, 0)
    assert await trip.pg.fetchval("SELECT array_agg(DISTINCT status) FROM travel_bookings") == ["released"]
    assert (carrier.made["hold"], carrier.seats_sold(departure)) == (1, 0)
    trip.clock.advance(seconds=CARRIER_TIMEOUT + 1)  # the given-up hold's request can no longer be in flight
    assert await trip.services.travel.recovery.release_given_up_holds() == 1
    assert (carrier.made["release"], carrier.seats_taken(departure)) == (1, 0)

    carrier.release("hold", hold_more=False)
    got, booking = await remote.hold(departure, [doc], headers=key)
    assert (got, booking["status"]) == (201, "held")  # the 504 was not kept as the key's answer
    assert await remote.hold(departure, [doc], headers=key) == (201, booking)
    assert await trip.pg.fetchval("SELECT count(*) FROM travel_bookings WHERE status = 'held'") == 1
    assert await remote.seats(departure) == (400, 1, 0)
    assert (carrier.seats_held(departure), carrier.seats_sold(departure)) == (1, 0)
    assert sorted(h.state for h in carrier.holds.values()) == ["held", "released"]
    assert carrier.holds[booking["id"]].state == "held"


async def test_a_hold_retried_before_the_sweeper_reaches_the_carriers_first_hold_not_a_second(
    remote: Remote,
) -> None:
    trip, carrier = remote.trip, remote.carrier
    departure = await remote.departure()
    doc = await trip.document(HKID)
    carrier.hold("hold")  # the carrier holds, then answers only after we gave up
    key = {"Idempotency-Key": "late-hold-retried"}
    async with impatient(remote):
        got, body = await remote.hold(departure, [doc], headers=key)
    assert (got, body["error"]["code"]) == (504, "carrier_timeout")
    assert await remote.seats(departure) == (400, 0, 0)
    assert (carrier.made["hold"], carrier.seats_held(departure)) == (1, 1)  # its hold is there

    carrier.release("hold", hold_more=False)
    got, booking = await remote.hold(departure, [doc], headers=key)

    assert (got, booking["status"]) == (201, "held")
    assert (carrier.made["hold"], carrier.calls["hold"]) == (1, 2)  # the same reference: one hold
    assert list(carrier.holds) == [booking["id"]]
    assert await trip.pg.fetchval("SELECT count(*) FROM travel_bookings") == 1
    assert await remote.seats(departure) == (400, 1, 0)
    assert (carrier.seats_held(departure), carrier.seats_sold(departure)) == (1, 0)
    trip.clock.advance(seconds=CARRIER_TIMEOUT + 1)
    assert await trip.services.travel.recovery.release_given_up_holds() == 0  # held again: not given up
    assert (carrier.made["release"], carrier.seats_held(departure)) == (0, 1)
    assert await remote.hold(departure, [doc], headers=key) == (201, booking)

    got, paid = await trip.rider.post(f"/v1/travel/bookings/{booking['id']}/payment")
    assert (got, paid["status"], len(paid["tickets"])) == (200, "confirmed", 1)
    assert (carrier.seats_held(departure), carrier.seats_sold(departure)) == (0, 1)
    assert await remote.seats(departure) == (400, 0, 1)


async def test_a_hold_retried_after_the_carriers_hold_ran_out_is_held_under_a_new_booking(
    remote: Remote,
) -> None:
    trip, carrier = remote.trip, remote.carrier
    departure = await remote.departure()
    doc = await trip.document(HKID)
    carrier.hold("hold")
    key = {"Idempotency-Key": "late-hold-expired"}
    async with impatient(remote):
        got, _ = await remote.hold(departure, [doc], headers=key)
    assert got == 504
    (first,) = list(carrier.holds)
    carrier.expire(first)  # gone at the carrier: the reference cannot be held again
    carrier.release("hold", hold_more=False)

    got, booking = await remote.hold(departure, [doc], headers=key)

    assert (got, booking["status"]) == (201, "held") and booking["id"] != first
    assert (carrier.made["hold"], carrier.holds[booking["id"]].state) == (2, "held")
    assert await trip.pg.fetchval("SELECT count(*) FROM travel_bookings WHERE status = 'held'") == 1
    assert await remote.seats(departure) == (400, 1, 0)
    assert carrier.seats_taken(departure) == 1
    trip.clock.advance(seconds=CARRIER_TIMEOUT + 1)
    assert await trip.services.travel.recovery.release_given_up_holds() == 0  # already let go


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


@pytest.mark.parametrize("fault", ["fail", "stall"])
async def test_a_confirmation_the_carrier_fails_keeps_the_charge_and_a_retry_with_the_key_confirms(
    remote: Remote, fault: str
) -> None:
    trip, carrier, gateway = remote.trip, remote.carrier, remote.gateway
    departure = await remote.departure()
    got, booking = await remote.hold(departure, [await trip.document(HKID)])
    assert got == 201, booking
    if fault == "fail":
        carrier.fail_next("confirm", 503)
    else:
        carrier.stall_next("confirm")  # hangs, doing nothing, until the test ends
    key = {"Idempotency-Key": f"pay-{fault}"}
    path = f"/v1/travel/bookings/{booking['id']}/payment"

    async with impatient(remote):
        got, body = await trip.rider.post(path, headers=key)

    assert (got, body["error"]["code"]) == (504, "confirmation_pending"), body
    (charged,) = [amount for kind, ok, amount in await remote.payments() if kind == "charge" and ok]
    assert await remote.payments() == [("charge", True, charged)]  # standing: the outcome is unknown
    assert (gateway.made["charge"], gateway.made["refund"], gateway.charged_total()) == (1, 0, charged)
    assert (carrier.seats_held(departure), carrier.seats_sold(departure), carrier.made["confirm"]) == (
        1,
        0,
        0,
    )
    _, after = await trip.rider.get(f"/v1/travel/bookings/{booking['id']}")
    assert (after["status"], after["tickets"]) == ("paying", [])
    assert await remote.seats(departure) == (400, 1, 0)

    got, paid = await trip.rider.post(path, headers=key)

    assert (got, paid["status"], len(paid["tickets"])) == (200, "confirmed", 1), paid
    assert paid["charge"] == {"amount": charged, "currency": "HKD"} and paid["refund"] is None
    assert (gateway.made["charge"], gateway.made["refund"], gateway.charged_total()) == (1, 0, charged)
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
    carrier.hold("confirm")  # confirmed there, answered only after we gave up
    key = {"Idempotency-Key": "pay-late"}
    path = f"/v1/travel/bookings/{booking['id']}/payment"

    async with impatient(remote):
        got, body = await trip.rider.post(path, headers=key)

    assert (got, body["error"]["code"]) == (504, "confirmation_pending")
    assert (gateway.made["charge"], gateway.made["refund"]) == (1, 0)
    carrier.release("confirm", hold_more=False)
    got, paid = await trip.rider.post(path, headers=key)
    assert (got, paid["status"], len(paid["tickets"])) == (200, "confirmed", 1)
    assert (gateway.made["charge"], gateway.made["refund"]) == (1, 0)
    assert gateway.charged_total() == paid["charge"]["amount"]
    assert (carrier.made["confirm"], carrier.seats_sold(departure), carrier.seats_held(departure)) == (
        1,
        1,
        0,
    )
    assert await remote.seats(departure) == (400, 0, 1)


async def test_a_confirmation_answered_too_late_and_never_retried_is_finished_by_the_sweeper(
    remote: Remote,
) -> None:
    trip, carrier, gateway = remote.trip, remote.carrier, remote.gateway
    departure = await remote.departure()
    _, booking = await remote.hold(departure, [await trip.document(HKID)])
    carrier.hold("confirm")  # confirmed there, answered only after we gave up
    async with impatient(remote):
        got, _ = await trip.rider.post(f"/v1/travel/bookings/{booking['id']}/payment")
    assert got == 504
    carrier.release("confirm", hold_more=False)
    trip.clock.advance(minutes=11)  # our hold and the carrier's run out: neither undoes a sale
    assert await trip.services.travel.bookings.sweep() == 0

    assert await trip.services.travel.recovery.sweep() == 1  # the payment handed its lease back

    _, after = await trip.rider.get(f"/v1/travel/bookings/{booking['id']}")
    assert (after["status"], len(after["tickets"]), after["refund"]) == ("confirmed", 1, None)
    assert (gateway.made["charge"], gateway.made["refund"]) == (1, 0)
    assert gateway.charged_total() == after["charge"]["amount"]
    assert (carrier.made["confirm"], carrier.seats_sold(departure), carrier.seats_held(departure)) == (
        1,
        1,
        0,
    )
    assert (carrier.made["release"], carrier.made["cancel"]) == (0, 0)
    assert await remote.seats(departure) == (400, 0, 1)


async def test_a_confirmation_never_answered_is_refunded_and_let_go_on_both_sides_after_the_limit(
    remote: Remote,
) -> None:
    trip, carrier, gateway = remote.trip, remote.carrier, remote.gateway
    recovery = giving_up_sooner(remote)
    departure = await remote.departure()
    _, booking = await remote.hold(departure, [await trip.document(HKID)])
    carrier.fail_next("confirm", 503, times=100, after_work=True)  # sold, but never says so
    got, _ = await trip.rider.post(f"/v1/travel/bookings/{booking['id']}/payment")
    assert got == 504
    assert carrier.seats_sold(departure) == 1

    for _ in range(GIVE_UP_MINUTES // 2):  # each sweep asks again, then holds the lease a grace
        assert await recovery.recover_payments() == 0
        _, after = await trip.rider.get(f"/v1/travel/bookings/{booking['id']}")
        assert (after["status"], after["refund"]) == ("paying", None)
        trip.clock.advance(minutes=2, seconds=1)
    assert await recovery.recover_payments() == 1  # past payment_give_up_seconds since the charge

    _, after = await trip.rider.get(f"/v1/travel/bookings/{booking['id']}")
    assert (after["status"], after["release_reason"], after["tickets"]) == (
        "released",
        "carrier_unconfirmed",
        [],
    )
    assert after["refund"] == after["charge"]
    assert (gateway.made["charge"], gateway.made["refund"], gateway.charged_total()) == (1, 1, 0)
    assert await remote.seats(departure) == (400, 0, 0)
    assert carrier.calls["confirm"] == 1 + GIVE_UP_MINUTES // 2 + 1
    assert (carrier.made["cancel"], carrier.seats_taken(departure)) == (1, 0)  # sold there: cancelled
    assert carrier.holds[booking["id"]].state == "cancelled"
    assert await recovery.release_given_up_holds() == 0  # let go of already, recorded


async def test_a_confirmation_never_answered_and_never_made_is_released_at_the_carrier_after_the_limit(
    remote: Remote,
) -> None:
    trip, carrier, gateway = remote.trip, remote.carrier, remote.gateway
    recovery = giving_up_sooner(remote)
    departure = await remote.departure()
    _, booking = await remote.hold(departure, [await trip.document(HKID)])
    carrier.fail_next("confirm", 503, times=100)  # fails before the work: still only held there
    got, _ = await trip.rider.post(f"/v1/travel/bookings/{booking['id']}/payment")
    assert got == 504
    carrier.fail_next("release", 503)  # the first release is lost too: the next sweep repeats it

    trip.clock.advance(minutes=GIVE_UP_MINUTES, seconds=1)
    assert await recovery.recover_payments() == 1

    _, after = await trip.rider.get(f"/v1/travel/bookings/{booking['id']}")
    assert (after["status"], after["release_reason"]) == ("released", "carrier_unconfirmed")
    assert (gateway.made["charge"], gateway.made["refund"], gateway.charged_total()) == (1, 1, 0)
    assert await remote.seats(departure) == (400, 0, 0)
    assert carrier.seats_held(departure) == 1
    trip.clock.advance(seconds=CARRIER_TIMEOUT + 1)  # carrier_timeout_seconds after giving up, as for a hold
    assert await recovery.release_given_up_holds() == 1
    assert (carrier.made["release"], carrier.made["cancel"], carrier.seats_taken(departure)) == (1, 0, 0)
    assert await recovery.release_given_up_holds() == 0


async def test_a_payment_retried_while_the_first_still_runs_is_409_in_progress(
    patient_remote: Remote,
) -> None:
    remote = patient_remote
    trip, carrier, gateway = remote.trip, remote.carrier, remote.gateway
    _, booking = await remote.hold(await remote.departure(), [await trip.document(HKID)])
    path = f"/v1/travel/bookings/{booking['id']}/payment"
    carrier.hold("confirm")  # answered in time, but only once the retry has been answered

    first = asyncio.create_task(trip.rider.post(path))
    await carrier.until_held("confirm", 1)  # charged, and the carrier's confirmation under way
    assert (gateway.made["charge"], carrier.made["confirm"], first.done()) == (1, 1, False)
    got, body = await trip.rider.post(path)
    assert carrier.held("confirm") == 1 and not first.done()  # the first was still running
    carrier.release("confirm", hold_more=False)

    assert (got, body["error"]["code"]) == (409, "payment_in_progress")
    got, paid = await first
    assert (got, paid["status"]) == (200, "confirmed")
    assert (gateway.made["charge"], carrier.made["confirm"]) == (1, 1)


async def test_a_charge_the_gateway_fails_moves_no_money_and_keeps_the_hold(remote: Remote) -> None:
    trip, carrier, gateway = remote.trip, remote.carrier, remote.gateway
    departure = await remote.departure()
    _, booking = await remote.hold(departure, [await trip.document(HKID)])
    gateway.fail_next("charge", 503)
    key = {"Idempotency-Key": "pay-gateway-down"}
    path = f"/v1/travel/bookings/{booking['id']}/payment"

    got, body = await trip.rider.post(path, headers=key)

    assert (got, body["error"]["code"]) == (504, "payment_pending")  # a 503 may have charged
    assert (gateway.charged_total(), carrier.made["confirm"]) == (0, 0)
    assert await remote.payments() == [("charge", False, body["error"]["details"]["amount"])]
    got, paid = await trip.rider.post(path, headers=key)
    assert (got, paid["status"]) == (200, "confirmed")
    assert (gateway.made["charge"], gateway.charged_total()) == (1, paid["charge"]["amount"])
    assert carrier.seats_sold(departure) == 1


async def test_the_carriers_shorter_hold_bounds_ours_and_no_payment_starts_on_a_hold_it_dropped(
    remote: Remote,
) -> None:
    trip, carrier, gateway = remote.trip, remote.carrier, remote.gateway
    carrier.max_hold_seconds = 300  # the carrier keeps a hold 5 minutes; ours would be 10
    carrier.now = trip.clock.now
    departure = await remote.departure()

    status, booking = await remote.hold(departure, [await trip.document(HKID)])

    assert status == 201, booking
    theirs = carrier.holds[booking["id"]].expires_at
    ours = datetime.fromisoformat(booking["expires_at"])
    assert ours < theirs <= trip.clock.now() + timedelta(minutes=5, seconds=1)
    _, shown = await trip.rider.get(f"/v1/travel/bookings/{booking['id']}")
    assert shown["expires_at"] == booking["expires_at"]

    trip.clock.advance(minutes=5)  # the carrier's hold is gone; ours would still have 5 minutes
    status, body = await trip.rider.post(f"/v1/travel/bookings/{booking['id']}/payment")

    assert (status, body["error"]["code"]) == (410, "hold_expired")
    assert (gateway.calls["charge"], carrier.calls["confirm"]) == (0, 0)
    assert await remote.seats(departure) == (400, 0, 0)
