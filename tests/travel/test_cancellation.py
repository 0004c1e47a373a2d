"""Cancelling a paid booking: our side changes in one transaction (booking cancelled, tickets
void, seats back on sale, the refund owed written down), then the carrier's cancellation and the
refund go through an outbox that retries them; what keeps failing is listed for admins. A
boarding scan racing the cancellation ends in exactly one of boarded or refunded."""

from __future__ import annotations

import asyncio
from typing import Any

from bayaffairs.adapters.protocols import ChargeRequest, PaymentOutcome, RefundRequest
from bayaffairs.db.queries import travel_bookings as q
from bayaffairs.errors import PartnerError
from tests.travel.conftest import Trip
from tests.travel.test_carrier_faults import FlakyCarrier
from tests.travel.test_payment_and_boarding import paid_booking

PAID = {"amount": 6500, "currency": "HKD"}


async def booking_of(trip: Trip, booking_id: str) -> Any:
    status, body = await trip.rider.get(f"/v1/travel/bookings/{booking_id}")
    assert status == 200, body
    return body


async def money(trip: Trip) -> list[tuple[str, str, int]]:
    rows = await trip.pg.fetch("SELECT kind, outcome, amount FROM travel_payments ORDER BY created_at, id")
    return [(r["kind"], r["outcome"], r["amount"]) for r in rows]


async def test_a_cancellation_is_written_at_once_and_the_carrier_and_refund_follow_from_the_outbox(
    flaky: tuple[Trip, FlakyCarrier],
) -> None:
    trip, carrier = flaky
    recovery = trip.services.travel.recovery
    departure = await trip.departure()
    paid = await paid_booking(trip, departure)
    carrier.faults["cancel"] = ["error", "hang"]  # the carrier fails, then does not answer

    status, cancelled = await trip.rider.post(f"/v1/travel/bookings/{paid['id']}/cancellation")

    assert (status, cancelled["status"], cancelled["refund"], cancelled["payment_status"]) == (
        200,
        "cancelled",
        PAID,
        "refund_pending",
    )
    assert [t["status"] for t in cancelled["tickets"]] == ["cancelled"]
    assert await trip.seats(departure) == (50, 0, 0)
    assert await money(trip) == [("charge", "succeeded", 6500)]  # the carrier first, then the money
    device = await trip.carrier_device()
    _, scan = await device.post(
        "/v1/carrier/boardings", {"payload": paid["tickets"][0]["payload"], "departure_id": departure}
    )
    assert (scan["decision"], scan["reason"]) == ("deny", "cancelled")

    assert await recovery.retry_refunds() == 0  # not before refund_retry_seconds
    trip.clock.advance(seconds=31)
    assert await recovery.retry_refunds() == 0  # the carrier does not answer
    trip.clock.advance(seconds=61)
    assert await recovery.retry_refunds() == 1

    after = await booking_of(trip, paid["id"])
    assert (after["payment_status"], after["refund"]) == ("refunded", PAID)
    assert await money(trip) == [("charge", "succeeded", 6500), ("refund", "succeeded", 6500)]
    assert [c for c in carrier.calls if c[0] == "cancel"] == [("cancel", paid["id"])] * 3
    assert await recovery.retry_refunds() == 0


class BrokenRefunds:
    """The demo wallet whose refunds never get through."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.currencies = inner.currencies
        self.refunds = 0

    async def charge(self, request: ChargeRequest) -> PaymentOutcome:
        outcome: PaymentOutcome = await self.inner.charge(request)
        return outcome

    async def refund(self, request: RefundRequest) -> PaymentOutcome:
        self.refunds += 1
        raise PartnerError(details={"partner": "demo"})

    async def lookup(self, reference: str) -> PaymentOutcome | None:
        found: PaymentOutcome | None = await self.inner.lookup(reference)
        return found


async def test_a_refund_that_keeps_failing_is_listed_as_stuck_for_admins_and_nobody_else(trip: Trip) -> None:
    paid = await paid_booking(trip, await trip.departure())
    payments = trip.services.travel.payments
    wallet = BrokenRefunds(payments.providers("demo"))
    payments.providers = lambda _id: wallet
    admin = trip.api.as_((await trip.services.credentials.issue("admin", "all")).token)

    status, cancelled = await trip.rider.post(f"/v1/travel/bookings/{paid['id']}/cancellation")
    assert (status, cancelled["payment_status"]) == (200, "refund_pending")
    status, none_yet = await admin.get("/v1/admin/refunds?status=stuck")
    assert (status, none_yet["items"]) == (200, [])
    _, pending = await admin.get("/v1/admin/refunds?status=pending")
    assert [r["booking_id"] for r in pending["items"]] == [paid["id"]]

    for _ in range(12):
        trip.clock.advance(hours=1)
        await trip.services.travel.recovery.retry_refunds()

    assert wallet.refunds == trip.services.travel.settings.refund_retry_attempts == 8
    status, stuck = await admin.get("/v1/admin/refunds?status=stuck")
    assert status == 200 and len(stuck["items"]) == 1
    (item,) = stuck["items"]
    assert (item["booking_id"], item["amount"], item["attempts"], item["reason"]) == (
        paid["id"],
        PAID,
        8,
        "cancellation",
    )
    assert item["last_error"] and item["status"] == "stuck"
    assert (await booking_of(trip, paid["id"]))["payment_status"] == "refund_stuck"
    for who in (trip.rider, await trip.carrier_device()):
        status, body = await who.get("/v1/admin/refunds?status=stuck")
        assert (status, body["error"]["code"]) == (403, "wrong_credential_kind")
    status, body = await admin.get("/v1/admin/refunds?status=lost")
    assert (status, body["error"]["code"]) == (400, "invalid_request")


async def test_boarding_racing_a_cancellation_ends_boarded_or_refunded_never_both(trip: Trip) -> None:
    device = await trip.carrier_device()
    departure = await trip.departure(hours=0.5)  # boarding is open
    docs = await trip.people(12)
    bookings = []
    for doc in docs:
        _, held = await trip.hold(departure, [doc])
        status, paid = await trip.rider.post(f"/v1/travel/bookings/{held['id']}/payment")
        assert status == 200, paid
        bookings.append(paid)

    async def board(paid: dict[str, Any], seconds: float) -> Any:
        await asyncio.sleep(seconds)
        body = {"payload": paid["tickets"][0]["payload"], "departure_id": departure}
        return (await device.post("/v1/carrier/boardings", body))[1]

    answers = await asyncio.gather(
        *(
            call
            for i, paid in enumerate(bookings)
            for call in (
                board(paid, 0.002 * (i % 4)),
                trip.rider.post(f"/v1/travel/bookings/{paid['id']}/cancellation"),
            )
        )
    )

    outcomes = []
    for i, paid in enumerate(bookings):
        scan, (_, cancel) = answers[2 * i], answers[2 * i + 1]
        after = await booking_of(trip, paid["id"])
        ticket = after["tickets"][0]["status"]
        if scan["decision"] == "board":
            assert (ticket, after["status"], after["refund"]) == ("boarded", "confirmed", None)
            assert cancel["error"]["code"] == "booking_not_cancellable"
        else:
            assert scan["reason"] == "cancelled"
            assert (ticket, after["status"], after["refund"]) == ("cancelled", "cancelled", PAID)
        outcomes.append(ticket)
    boarded = outcomes.count("boarded")
    assert await trip.seats(departure) == (50, 0, boarded)

    # The negative control: the cancellation as it was (check for a boarded ticket, then cancel
    # the booking and void the tickets still valid), with a boarding scan landing in between.
    # Both happen: a boarded passenger whose booking is cancelled and refunded.
    _, held = await trip.hold(departure, await trip.people(1, first=900))
    _, paid = await trip.rider.post(f"/v1/travel/bookings/{held['id']}/payment")
    async with trip.services.travel.payments.db.acquire() as conn:
        tickets = await q.tickets(conn, [paid["id"]])
    assert not any(t.status == "boarded" for t in tickets)  # the old check passes
    scan = await board(paid, 0)  # the scan lands in the gap
    async with trip.services.travel.payments.db.transaction() as conn:
        now = trip.clock.now()
        done = await q.move(conn, paid["id"], from_status=("confirmed",), to_status="cancelled", at=now)
        await conn.execute(
            "UPDATE travel_tickets SET status = 'cancelled' WHERE booking_id = $1 AND status = 'valid'",
            paid["id"],
        )
    assert scan["decision"] == "board" and done is not None and done.status == "cancelled"
    assert [t.status for t in await q.tickets(trip.pg, [paid["id"]])] == ["boarded"]
