"""A charge whose outcome is unknown (the gateway timed out or answered 5xx) is recorded as
`unknown`, shown as pending, never answered as "nothing charged", retried with its original
amount whatever the rate does meanwhile, and reconciled with the provider by its reference by
the sweeper, whatever happened to the booking. Against the HTTP wallet gateway's fake."""

from __future__ import annotations

import dataclasses
import time
from decimal import Decimal
from typing import Any

from bayaffairs.adapters.protocols import FxRate
from tests.travel.conftest import Remote
from tests.travel.test_recovery import held_booking


async def booking_of(remote: Remote, booking_id: str) -> Any:
    status, body = await remote.trip.rider.get(f"/v1/travel/bookings/{booking_id}")
    assert status == 200, body
    return body


def set_rate(remote: Remote, base: str, quote: str, rate: str) -> None:
    """The rate the converter uses from now on (as if the feed had just moved)."""
    converter = remote.trip.services.travel.payments.converter
    now = remote.trip.clock.now()
    converter._rates[(base, quote)] = (FxRate(base, quote, Decimal(rate), now, "test"), time.monotonic())


def give_up_sooner(remote: Remote, seconds: float = 240) -> Any:
    recovery = remote.trip.services.travel.recovery
    recovery.settings = dataclasses.replace(recovery.settings, payment_give_up_seconds=seconds)
    return recovery


async def test_a_charge_answered_5xx_is_504_payment_pending_and_the_retry_reuses_its_amount_at_a_new_rate(
    remote: Remote,
) -> None:
    trip, gateway, carrier = remote.trip, remote.gateway, remote.carrier
    booking = await held_booking(remote)
    gateway.fail_next("charge", 503, after_work=True)  # charged, but we never heard
    pay = f"/v1/travel/bookings/{booking['id']}/payment"

    status, body = await trip.rider.post(pay, headers={"Idempotency-Key": "pay-1"})

    assert (status, body["error"]["code"]) == (504, "payment_pending")
    pending = await booking_of(remote, booking["id"])
    assert (pending["status"], pending["payment_status"]) == ("paying", "pending")
    asked = pending["charge"]
    assert asked["currency"] == "HKD" and asked["amount"] > 0
    rows = await trip.pg.fetch("SELECT kind, outcome, amount, reference FROM travel_payments")
    assert [(r["kind"], r["outcome"], r["amount"]) for r in rows] == [("charge", "unknown", asked["amount"])]

    set_rate(remote, "MOP", "HKD", "0.5")  # the rate moves a lot before the rider retries
    status, paid = await trip.rider.post(pay, headers={"Idempotency-Key": "pay-1"})

    assert (status, paid["status"], paid["payment_status"]) == (200, "confirmed", "charged")
    assert paid["charge"] == asked  # the original amount, not one at the new rate
    assert (gateway.made["charge"], gateway.calls["charge"], gateway.charged_total()) == (
        1,
        2,
        asked["amount"],
    )
    charges = [e for e in gateway.ledger if e.kind == "charge"]
    assert {e.reference for e in charges} == {rows[0]["reference"]}
    assert carrier.seats_sold(booking["departure_id"]) == 1


async def test_an_unknown_charge_of_a_booking_given_up_is_found_by_its_reference_and_refunded(
    remote: Remote,
) -> None:
    trip, gateway, carrier = remote.trip, remote.gateway, remote.carrier
    recovery = give_up_sooner(remote)
    booking = await held_booking(remote)
    gateway.fail_next("charge", 503, after_work=True)
    gateway.fail_next("charge", 503, times=10)  # every re-drive fails: the outcome stays unknown
    gateway.fail_next("lookup", 503, times=1)
    status, _ = await trip.rider.post(f"/v1/travel/bookings/{booking['id']}/payment")
    assert status == 504

    trip.clock.advance(minutes=5)  # past payment_give_up_seconds, the charge still unknown
    await recovery.sweep()  # re-driving fails: given up; the look-up that follows fails too
    given_up = await booking_of(remote, booking["id"])
    assert (given_up["status"], given_up["release_reason"]) == ("released", "payment_unknown")
    assert given_up["payment_status"] == "pending"  # never "nothing charged" while unknown
    assert (await remote.seats(booking["departure_id"]), carrier.seats_taken(booking["departure_id"])) == (
        (400, 0, 0),
        0,
    )
    assert gateway.charged_total() > 0  # the gateway did take the money

    trip.clock.advance(minutes=1)
    await recovery.sweep()  # found by its reference: charged, and refunded since nothing was sold

    after = await booking_of(remote, booking["id"])
    assert (after["status"], after["payment_status"], after["refund"]) == (
        "released",
        "refunded",
        after["charge"],
    )
    assert gateway.charged_total() == 0 and gateway.made["refund"] == 1
    outcomes = await trip.pg.fetch("SELECT kind, outcome FROM travel_payments ORDER BY created_at, id")
    assert [(r["kind"], r["outcome"]) for r in outcomes] == [
        ("charge", "unknown"),
        ("charge", "succeeded"),
        ("refund", "succeeded"),
    ]
    await recovery.sweep()
    assert gateway.made["refund"] == 1  # refunded once


async def test_an_unknown_charge_the_gateway_never_made_is_settled_as_failed_and_nothing_refunded(
    remote: Remote,
) -> None:
    trip, gateway = remote.trip, remote.gateway
    recovery = give_up_sooner(remote)
    booking = await held_booking(remote)
    gateway.fail_next("charge", 503, times=11)  # not made, and every re-drive fails
    status, body = await trip.rider.post(f"/v1/travel/bookings/{booking['id']}/payment")
    assert (status, body["error"]["code"]) == (504, "payment_pending")

    for _ in range(3):
        trip.clock.advance(minutes=3)
        await recovery.sweep()

    after = await booking_of(remote, booking["id"])
    assert (after["status"], after["payment_status"], after["charge"], after["refund"]) == (
        "released",
        "unpaid",
        None,
        None,
    )
    assert (gateway.made["charge"], gateway.made["refund"], gateway.calls["refund"]) == (0, 0, 0)
    outcomes = await trip.pg.fetch("SELECT kind, outcome FROM travel_payments ORDER BY created_at, id")
    assert [(r["kind"], r["outcome"]) for r in outcomes] == [("charge", "unknown"), ("charge", "failed")]
