"""A carrier failing, refusing or timing out during hold or confirm leaves no phantom seat and
no charge; a retry with the same Idempotency-Key finishes the job."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from bayaffairs.adapters.protocols import CarrierConfirmation, CarrierPassenger, CarrierRefused
from bayaffairs.errors import PartnerError
from tests.travel.conftest import HKID, FlakyCarrier, Trip


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [("error", 502, "carrier_error"), ("hang", 504, "carrier_timeout"), ("refuse", 409, "carrier_refused")],
)
async def test_a_failed_carrier_hold_keeps_no_seat_and_a_retry_with_the_key_books(
    flaky: tuple[Trip, FlakyCarrier], fault: str, status: int, code: str
) -> None:
    trip, carrier = flaky
    departure = await trip.departure()
    doc = await trip.document(HKID)
    carrier.faults["hold"] = [fault]
    key = {"Idempotency-Key": f"hold-{fault}"}
    got, body = await trip.hold(departure, [doc], headers=key)
    assert (got, body["error"]["code"]) == (status, code)
    assert await trip.seats(departure) == (50, 0, 0)
    assert await trip.pg.fetchval("SELECT array_agg(DISTINCT status) FROM travel_bookings") == ["released"]
    got, booking = await trip.hold(departure, [doc], headers=key)
    assert (got, booking["status"]) == (201, "held")
    assert await trip.seats(departure) == (50, 1, 0)
    replay = await trip.hold(departure, [doc], headers=key)
    assert replay == (201, booking)


async def _succeeded(trip: Trip, kind: str) -> int:
    return int(
        await trip.pg.fetchval("SELECT count(*) FROM travel_payments WHERE kind = $1 AND succeeded", kind)
    )


@pytest.mark.parametrize("fault", ["error", "hang"])
async def test_a_confirmation_the_carrier_fails_or_leaves_unanswered_keeps_the_charge_and_a_retry_confirms(
    flaky: tuple[Trip, FlakyCarrier], fault: str
) -> None:
    trip, carrier = flaky
    departure = await trip.departure()
    _, booking = await trip.hold(departure, [await trip.document(HKID)])
    carrier.faults["confirm"] = [fault]
    key = {"Idempotency-Key": f"pay-{fault}"}
    path = f"/v1/travel/bookings/{booking['id']}/payment"

    got, body = await trip.rider.post(path, headers=key)

    assert (got, body["error"]["code"]) == (504, "confirmation_pending")  # it may have sold them
    rows = await trip.pg.fetch("SELECT kind, succeeded, amount FROM travel_payments ORDER BY created_at")
    assert [(r["kind"], r["succeeded"], r["amount"]) for r in rows] == [("charge", True, 6500)]
    _, after = await trip.rider.get(f"/v1/travel/bookings/{booking['id']}")
    assert (after["status"], after["tickets"], after["charge"]) == (
        "paying",
        [],
        {"amount": 6500, "currency": "HKD"},
    )
    assert await trip.seats(departure) == (50, 1, 0)

    got, paid = await trip.rider.post(path, headers=key)

    assert (got, paid["status"], len(paid["tickets"])) == (200, "confirmed", 1)
    assert paid["charge"] == {"amount": 6500, "currency": "HKD"} and paid["refund"] is None
    assert await trip.seats(departure) == (50, 0, 1)
    assert (await _succeeded(trip, "charge"), await _succeeded(trip, "refund")) == (1, 0)
    assert [c for c in carrier.calls if c[0] == "confirm"] == [("confirm", booking["id"])] * 2


async def test_a_confirmation_the_carrier_refuses_refunds_the_charge_and_a_retry_confirms(
    flaky: tuple[Trip, FlakyCarrier],
) -> None:
    trip, carrier = flaky
    departure = await trip.departure()
    _, booking = await trip.hold(departure, [await trip.document(HKID)])
    carrier.faults["confirm"] = ["refuse"]
    key = {"Idempotency-Key": "pay-refuse"}
    path = f"/v1/travel/bookings/{booking['id']}/payment"
    got, body = await trip.rider.post(path, headers=key)
    assert (got, body["error"]["code"]) == (409, "carrier_refused"), body
    rows = await trip.pg.fetch("SELECT kind, succeeded, amount FROM travel_payments ORDER BY created_at")
    assert [(r["kind"], r["succeeded"], r["amount"]) for r in rows] == [
        ("charge", True, 6500),
        ("refund", True, 6500),
    ]
    _, after = await trip.rider.get(f"/v1/travel/bookings/{booking['id']}")
    assert after["status"] == "held" and after["tickets"] == []
    assert await trip.seats(departure) == (50, 1, 0)
    got, paid = await trip.rider.post(path, headers=key)
    assert (got, paid["status"], len(paid["tickets"])) == (200, "confirmed", 1)
    assert paid["charge"] == {"amount": 6500, "currency": "HKD"} and paid["refund"] is None
    assert await trip.seats(departure) == (50, 0, 1)
    assert await _succeeded(trip, "charge") - await _succeeded(trip, "refund") == 1


async def test_a_confirmation_refused_after_the_hold_expired_refunds_and_releases_the_seat(
    flaky: tuple[Trip, FlakyCarrier],
) -> None:
    trip, carrier = flaky
    departure = await trip.departure()
    _, booking = await trip.hold(departure, [await trip.document(HKID)])
    trip.clock.advance(minutes=9, seconds=59)

    original = carrier.confirm

    async def slow_then_refuse(reference: str, passengers: Sequence[CarrierPassenger]) -> CarrierConfirmation:
        trip.clock.advance(seconds=5)
        raise CarrierRefused("sold_out")

    carrier.confirm = slow_then_refuse  # type: ignore[method-assign]
    got, _ = await trip.rider.post(f"/v1/travel/bookings/{booking['id']}/payment")
    carrier.confirm = original  # type: ignore[method-assign]
    assert got == 409
    _, after = await trip.rider.get(f"/v1/travel/bookings/{booking['id']}")
    assert (after["status"], after["release_reason"]) == ("released", "payment_failed")
    assert after["refund"] == after["charge"] == {"amount": 6500, "currency": "HKD"}
    assert await trip.seats(departure) == (50, 0, 0)
    assert ("release", booking["id"]) in carrier.calls


async def test_a_confirmation_unknown_when_the_hold_expires_is_not_released_and_the_sweeper_confirms_it(
    flaky: tuple[Trip, FlakyCarrier],
) -> None:
    trip, carrier = flaky
    departure = await trip.departure()
    _, booking = await trip.hold(departure, [await trip.document(HKID)])
    trip.clock.advance(minutes=9, seconds=59)

    original = carrier.confirm

    async def slow_then_fail(reference: str, passengers: Sequence[CarrierPassenger]) -> CarrierConfirmation:
        trip.clock.advance(seconds=5)
        raise PartnerError()

    carrier.confirm = slow_then_fail  # type: ignore[method-assign]
    got, _ = await trip.rider.post(f"/v1/travel/bookings/{booking['id']}/payment")
    carrier.confirm = original  # type: ignore[method-assign]
    assert got == 504
    assert await trip.services.travel.bookings.sweep() == 0  # `paying` is never expired
    assert await trip.seats(departure) == (50, 1, 0)

    assert await trip.services.travel.recovery.recover_payments() == 1  # handed back: at once

    _, after = await trip.rider.get(f"/v1/travel/bookings/{booking['id']}")
    assert (after["status"], len(after["tickets"]), after["refund"]) == ("confirmed", 1, None)
    assert await trip.seats(departure) == (50, 0, 1)
    assert ("release", booking["id"]) not in carrier.calls
    assert (await _succeeded(trip, "charge"), await _succeeded(trip, "refund")) == (1, 0)
