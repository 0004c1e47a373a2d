"""The sweeper's repairs (bayaffairs/travel/recovery.py): a payment its process abandoned in
`paying` is finished or undone, a refund the provider could not be reached for is retried with
backoff. Against the remote carrier and the HTTP wallet gateway (their fakes), on the real DB."""

from __future__ import annotations

from typing import Any

import pytest

from bayaffairs.adapters.protocols import ChargeRequest
from bayaffairs.db.queries import travel_bookings as q
from bayaffairs.db.queries import travel_recovery as rq
from bayaffairs.money import Money
from tests.travel.conftest import CARRIER_TIMEOUT, HKID, HZMB, Remote, impatient

pytestmark = pytest.mark.at_two_instants

GRACE_MINUTES = 2  # [travel] payment_recovery_seconds, by default


async def held_booking(remote: Remote, departure: str | None = None, fare_class: str = "economy") -> Any:
    trip = remote.trip
    body = {
        "departure_id": departure or await remote.departure(),
        "fare_class": fare_class,
        "passengers": [{"document_id": await trip.document(HKID)}],
    }
    status, booking = await trip.rider.post("/v1/travel/bookings", body)
    assert status == 201, booking
    return booking


async def claimed(remote: Remote, booking_id: str) -> q.BookingRow:
    """The booking claimed for payment as `pay` claims it (held -> paying), then abandoned."""
    now = remote.trip.clock.now()
    async with remote.trip.services.travel.payments.db.acquire() as conn:
        row = await q.move(
            conn, booking_id, from_status=("held",), to_status="paying", at=now, unexpired_at=now
        )
    assert row is not None
    return row


async def charged(remote: Remote, row: q.BookingRow) -> None:
    """The wallet charged and the charge recorded, as `pay` does, before the process dies."""
    payments = remote.trip.services.travel.payments
    await payments.charges.charge(
        row, payments.providers("wallet_gateway"), "wallet_gateway", "HKD", row.user_id
    )


async def status_of(remote: Remote, booking_id: str) -> str:
    return str(await remote.trip.pg.fetchval("SELECT status FROM travel_bookings WHERE id = $1", booking_id))


async def test_a_payment_abandoned_after_the_charge_is_confirmed_once_its_grace_is_over(
    remote: Remote,
) -> None:
    trip, carrier, gateway = remote.trip, remote.carrier, remote.gateway
    recovery = trip.services.travel.recovery
    booking = await held_booking(remote)
    await charged(remote, await claimed(remote, booking["id"]))

    trip.clock.advance(minutes=GRACE_MINUTES - 1)
    assert await recovery.recover_payments() == 0  # maybe still running: left alone
    assert await status_of(remote, booking["id"]) == "paying"
    trip.clock.advance(minutes=1, seconds=1)
    assert await recovery.recover_payments() == 1

    _, after = await trip.rider.get(f"/v1/travel/bookings/{booking['id']}")
    assert (after["status"], len(after["tickets"]), after["refund"]) == ("confirmed", 1, None)
    assert (gateway.made["charge"], gateway.charged_total()) == (1, after["charge"]["amount"])
    assert (carrier.made["confirm"], carrier.seats_sold(booking["departure_id"])) == (1, 1)
    assert await remote.seats(booking["departure_id"]) == (400, 0, 1)
    assert await recovery.recover_payments() == 0  # done: nothing left to recover


async def test_a_charge_made_but_never_recorded_is_re_driven_with_its_reference_not_charged_twice(
    remote: Remote,
) -> None:
    trip, carrier, gateway = remote.trip, remote.carrier, remote.gateway
    booking = await held_booking(remote)
    row = await claimed(remote, booking["id"])
    intent = rq.ChargeIntent(
        f"{row.id}:charge:0",
        row.id,
        "wallet_gateway",
        row.user_id,
        4000,
        "HKD",
        17500,
        "MOP",
        0,
        row.updated_at,
    )
    async with trip.services.travel.payments.db.acquire() as conn:
        await rq.insert_charge_intent(conn, intent)
    provider = trip.services.travel.payments.providers("wallet_gateway")
    await provider.charge(
        ChargeRequest(intent.reference, Money(4000, "HKD"), row.user_id, f"travel booking {row.id}")
    )
    assert await remote.payments() == []  # the process died before recording the answer

    trip.clock.advance(minutes=GRACE_MINUTES, seconds=1)
    assert await trip.services.travel.recovery.recover_payments() == 1

    assert await status_of(remote, booking["id"]) == "confirmed"
    assert await remote.payments() == [("charge", True, 4000)]
    assert (gateway.made["charge"], gateway.calls["charge"], gateway.charged_total()) == (1, 2, 4000)
    assert carrier.seats_sold(booking["departure_id"]) == 1


async def test_a_payment_abandoned_before_any_charge_after_the_hold_expired_is_released(
    remote: Remote,
) -> None:
    trip, carrier, gateway = remote.trip, remote.carrier, remote.gateway
    booking = await held_booking(remote)
    await claimed(remote, booking["id"])
    trip.clock.advance(minutes=11)
    assert await trip.services.travel.bookings.sweep() == 0  # the sweeper never releases `paying`

    assert await trip.services.travel.recovery.recover_payments() == 1

    _, after = await trip.rider.get(f"/v1/travel/bookings/{booking['id']}")
    assert (after["status"], after["release_reason"], after["charge"]) == ("released", "payment_failed", None)
    assert await remote.seats(booking["departure_id"]) == (400, 0, 0)
    # The carrier's hold ran out by the same clock: we still ask it to let go, once.
    assert (
        gateway.calls["charge"],
        carrier.calls["release"],
        carrier.seats_taken(booking["departure_id"]),
    ) == (
        0,
        1,
        0,
    )


async def test_a_payment_abandoned_before_any_charge_while_the_hold_lasts_goes_back_to_held(
    remote: Remote,
) -> None:
    trip = remote.trip
    booking = await held_booking(remote)
    await claimed(remote, booking["id"])
    trip.clock.advance(minutes=GRACE_MINUTES, seconds=1)

    assert await trip.services.travel.recovery.recover_payments() == 1

    assert await status_of(remote, booking["id"]) == "held"
    assert await remote.seats(booking["departure_id"]) == (400, 1, 0)
    status, paid = await trip.rider.post(f"/v1/travel/bookings/{booking['id']}/payment")
    assert (status, paid["status"]) == (200, "confirmed")


async def test_a_charged_payment_the_carrier_refuses_on_recovery_is_refunded_and_released(
    remote: Remote,
) -> None:
    trip, carrier, gateway = remote.trip, remote.carrier, remote.gateway
    booking = await held_booking(remote)
    await charged(remote, await claimed(remote, booking["id"]))
    carrier.expire(booking["id"])  # the carrier's hold ran out meanwhile: it refuses to confirm
    trip.clock.advance(minutes=GRACE_MINUTES, seconds=1)

    assert await trip.services.travel.recovery.recover_payments() == 1

    _, after = await trip.rider.get(f"/v1/travel/bookings/{booking['id']}")
    assert (after["status"], after["tickets"]) == ("released", [])
    assert after["refund"] == after["charge"]
    assert (gateway.made["charge"], gateway.made["refund"], gateway.charged_total()) == (1, 1, 0)
    assert await remote.seats(booking["departure_id"]) == (400, 0, 0)
    assert (carrier.made["confirm"], carrier.seats_taken(booking["departure_id"])) == (0, 0)


async def test_a_charged_payment_the_carrier_cannot_confirm_yet_stays_for_the_next_sweep(
    remote: Remote,
) -> None:
    trip, carrier, gateway = remote.trip, remote.carrier, remote.gateway
    recovery = trip.services.travel.recovery
    booking = await held_booking(remote)
    await charged(remote, await claimed(remote, booking["id"]))
    carrier.fail_next("confirm", 503)
    trip.clock.advance(minutes=GRACE_MINUTES, seconds=1)

    assert await recovery.recover_payments() == 0
    assert await status_of(remote, booking["id"]) == "paying"
    assert await recovery.recover_payments() == 0  # leased: not again before another grace
    trip.clock.advance(minutes=GRACE_MINUTES, seconds=1)
    assert await recovery.recover_payments() == 1

    assert await status_of(remote, booking["id"]) == "confirmed"
    assert (gateway.made["charge"], gateway.made["refund"], carrier.made["confirm"]) == (1, 0, 1)


async def test_a_refund_the_gateway_failed_is_retried_with_backoff_until_it_goes_through(
    remote: Remote,
) -> None:
    trip, gateway = remote.trip, remote.gateway
    recovery = trip.services.travel.recovery
    booking = await held_booking(remote, await trip.departure(HZMB, hours=30), "standard")
    status, paid = await trip.rider.post(f"/v1/travel/bookings/{booking['id']}/payment")
    assert status == 200, paid
    gateway.fail_next("refund", 503, times=2)

    status, cancelled = await trip.rider.post(f"/v1/travel/bookings/{booking['id']}/cancellation")

    assert (status, cancelled["status"], gateway.charged_total()) == (
        200,
        "cancelled",
        paid["charge"]["amount"],
    )
    assert await recovery.retry_refunds() == 0  # not before refund_retry_seconds (30 s)
    trip.clock.advance(seconds=31)
    assert await recovery.retry_refunds() == 0  # the second attempt fails too
    trip.clock.advance(seconds=31)
    assert await recovery.retry_refunds() == 0  # backoff doubled: 60 s after the second
    trip.clock.advance(seconds=30)
    assert await recovery.retry_refunds() == 1
    assert await recovery.retry_refunds() == 0

    rows = await trip.pg.fetch(
        "SELECT succeeded, amount, reference FROM travel_payments WHERE kind = 'refund' ORDER BY created_at"
    )
    assert [r["succeeded"] for r in rows] == [False, False, True]
    assert len({r["reference"] for r in rows}) == 1 and {r["amount"] for r in rows} == {
        paid["charge"]["amount"]
    }
    assert (gateway.made["refund"], gateway.charged_total()) == (1, 0)
    _, after = await trip.rider.get(f"/v1/travel/bookings/{booking['id']}")
    assert after["refund"] == paid["charge"]


async def test_a_refund_is_retried_at_most_the_configured_number_of_attempts(remote: Remote) -> None:
    trip, gateway = remote.trip, remote.gateway
    recovery = trip.services.travel.recovery
    booking = await held_booking(remote, await trip.departure(HZMB, hours=30), "standard")
    await trip.rider.post(f"/v1/travel/bookings/{booking['id']}/payment")
    gateway.fail_next("refund", 503, times=100)
    await trip.rider.post(f"/v1/travel/bookings/{booking['id']}/cancellation")

    for _ in range(12):
        trip.clock.advance(hours=1)
        await recovery.retry_refunds()

    attempts = await trip.pg.fetchval("SELECT count(*) FROM travel_payments WHERE kind = 'refund'")
    assert attempts == recovery.settings.refund_retry_attempts == 8
    assert gateway.calls["refund"] == 8


async def test_a_given_up_hold_whose_release_is_under_way_is_never_held_again_under_its_reference(
    remote: Remote,
) -> None:
    trip, carrier = remote.trip, remote.carrier
    recovery = trip.services.travel.recovery
    departure = await remote.departure()
    doc = await trip.document(HKID)
    key = {"Idempotency-Key": "hold-being-released"}
    carrier.hold("hold")  # the carrier holds, then answers only after we gave up
    async with impatient(remote):
        got, _ = await remote.hold(departure, [doc], headers=key)
    assert got == 504
    (first,) = list(carrier.holds)
    carrier.release("hold", hold_more=False)
    trip.clock.advance(seconds=CARRIER_TIMEOUT + 1)
    carrier.fail_next("release", 503)
    assert await recovery.release_given_up_holds() == 0  # claimed, asked, no answer

    got, booking = await remote.hold(departure, [doc], headers=key)

    assert (got, booking["status"]) == (201, "held") and booking["id"] != first  # a fresh reference
    assert carrier.made["hold"] == 2
    assert await recovery.release_given_up_holds() == 1  # the claimed one, asked again
    assert (carrier.holds[first].state, carrier.holds[booking["id"]].state) == ("released", "held")
    assert await remote.seats(departure) == (400, 1, 0)
    assert carrier.seats_held(departure) == 1
