"""Money is never lost to a race: a cancellation meeting a payment in flight, a charge whose
outcome is unknown, boarding racing a cancellation. Each race test also runs the unguarded
interleaving (the negative control) to show the race is real."""

from __future__ import annotations

import asyncio
from typing import Any

from bayaffairs.adapters.protocols import ChargeRequest, PaymentOutcome, RefundRequest
from tests.travel.conftest import HKID, Trip


class SlowWallet:
    """The demo wallet, but each charge waits until the test lets it go."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.currencies = inner.currencies
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.refunds: list[RefundRequest] = []

    async def charge(self, request: ChargeRequest) -> PaymentOutcome:
        self.started.set()
        await self.release.wait()
        outcome: PaymentOutcome = await self.inner.charge(request)
        return outcome

    async def refund(self, request: RefundRequest) -> PaymentOutcome:
        self.refunds.append(request)
        outcome: PaymentOutcome = await self.inner.refund(request)
        return outcome

    async def lookup(self, reference: str) -> PaymentOutcome | None:
        found: PaymentOutcome | None = await self.inner.lookup(reference)
        return found


def slow_wallet(trip: Trip) -> SlowWallet:
    payments = trip.services.travel.payments
    wallet = SlowWallet(payments.providers("demo"))
    payments.providers = lambda _id: wallet
    return wallet


async def money(trip: Trip, booking_id: str) -> list[tuple[str, bool, int]]:
    rows = await trip.pg.fetch(
        "SELECT kind, succeeded, amount FROM travel_payments WHERE booking_id = $1 ORDER BY created_at, id",
        booking_id,
    )
    return [(r["kind"], r["succeeded"], r["amount"]) for r in rows]


async def test_a_cancel_meeting_a_payment_in_flight_is_409_and_the_payment_confirms(trip: Trip) -> None:
    departure = await trip.departure()
    _, booking = await trip.hold(departure, [await trip.document(HKID)])
    wallet = slow_wallet(trip)
    paying = asyncio.create_task(trip.rider.post(f"/v1/travel/bookings/{booking['id']}/payment"))
    await wallet.started.wait()

    status, body = await trip.rider.post(f"/v1/travel/bookings/{booking['id']}/cancellation")
    wallet.release.set()
    paid_status, paid = await paying

    assert (status, body["error"]["code"]) == (409, "payment_in_progress")
    assert (paid_status, paid["status"]) == (200, "confirmed")
    assert await money(trip, booking["id"]) == [("charge", True, 6500)]
    assert await trip.seats(departure) == (50, 0, 1)

    # The negative control: the same interleaving through the unguarded release the rider's cancel
    # used to call (it also released `paying` bookings). The race is real: the release lands while
    # the charge is in flight. The payment that finds its booking gone refunds the charge, so even
    # then the booking ends released with its money back, never released with the money kept.
    _, other = await trip.hold(departure, await trip.people(1))
    wallet.started.clear()
    wallet.release.clear()
    paying = asyncio.create_task(trip.rider.post(f"/v1/travel/bookings/{other['id']}/payment"))
    await wallet.started.wait()
    released = await trip.services.travel.bookings.release(
        other["id"], "cancelled_by_rider", from_status=("held", "paying")
    )
    wallet.release.set()
    paid_status, paid = await paying

    assert released is True
    assert (paid_status, paid["error"]["code"]) == (410, "hold_expired")
    assert paid["error"]["details"] == {"reason": "cancelled_by_rider", "refunded": True}
    assert await money(trip, other["id"]) == [("charge", True, 6500), ("refund", True, 6500)]
    _, after = await trip.rider.get(f"/v1/travel/bookings/{other['id']}")
    assert (after["status"], after["tickets"], after["refund"]) == ("released", [], after["charge"])
    assert await trip.seats(departure) == (50, 0, 1)


async def test_cancels_racing_payments_end_each_booking_in_exactly_one_outcome(trip: Trip) -> None:
    """Pay and cancel sent together on 20 bookings: confirmed with its charge, released with no
    charge, or cancelled after confirmation with its refund by the tiers; never money kept for
    a released booking."""
    departure = await trip.departure()
    bookings = []
    for who, doc in await trip.crowd(20):  # five riders, five unpaid bookings each at most
        _, held = await trip.hold(departure, [doc], rider=who)
        bookings.append((who, held["id"]))

    async def cancel_after(who: Any, booking_id: str, seconds: float) -> Any:
        await asyncio.sleep(seconds)
        return await who.post(f"/v1/travel/bookings/{booking_id}/cancellation")

    async def pay_then_cancel(who: Any, booking_id: str) -> Any:
        await who.post(f"/v1/travel/bookings/{booking_id}/payment")
        return await who.post(f"/v1/travel/bookings/{booking_id}/cancellation")

    racing, settled = bookings[:15], bookings[15:]
    await asyncio.gather(  # the cancels land before, during and after the payments
        *(
            call
            for i, (who, b) in enumerate(racing)
            for call in (
                who.post(f"/v1/travel/bookings/{b}/payment"),
                cancel_after(who, b, 0.05 * i),
            )
        ),
        # However slow the machine, some cancels come after their payment: the refund path runs
        # beside the race (on a loaded machine every racing cancel may win, all released).
        *(pay_then_cancel(who, b) for who, b in settled),
    )

    outcomes = set()
    for who, b in bookings:
        _, after = await who.get(f"/v1/travel/bookings/{b}")
        moved = await money(trip, b)
        outcomes.add(after["status"])
        assert (after["status"], moved) in [
            ("confirmed", [("charge", True, 6500)]),
            ("released", []),
            ("cancelled", [("charge", True, 6500), ("refund", True, 6500)]),
        ], (after, moved)
    assert "released" in outcomes and outcomes & {"confirmed", "cancelled"}
