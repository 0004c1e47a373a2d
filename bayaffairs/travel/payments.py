"""Paying for a held booking and cancelling a confirmed one: the rider's two money use cases.

The booking row is claimed (`held` -> `paying`, only while the hold is unexpired) before any
money moves; the sweeper only releases `held` rows, so a hold expiring while its payment runs
ends as exactly one of confirmed or released. If the charge fails the claim is undone. Once
charged, the carrier's answer decides: a confirmation issues the tickets; a refusal refunds the
charge and undoes the claim; no answer (a timeout, a 5xx, anything unreadable) is *unknown* (the
carrier may have sold the seats), so the booking stays `paying` with the charge standing and is
answered 504 `confirmation_pending`. Whoever holds its lease next (the rider retrying the
payment, or the sweeper, `recovery.py`) asks the carrier again under the same reference
(`resuming.py`). The lease is the booking's `updated_at` (`claims.py`): claiming sets it, and a
`paying` booking is taken over only once it is `payment_recovery_seconds` old, so one driver at
a time moves money or confirms; a payment left unknown hands its lease back at once. Money moves
in `charges.py` (append-only rows); the carrier and the tickets are `confirming.py`'s.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from bayaffairs.adapters.protocols import PaymentProvider
from bayaffairs.clock import Clock
from bayaffairs.db.queries import travel as dq
from bayaffairs.db.queries import travel_bookings as q
from bayaffairs.db.queries import travel_refunds as fq
from bayaffairs.documents.service import DocumentService
from bayaffairs.errors import Conflict, Forbidden, PartnerError
from bayaffairs.fx import Converter
from bayaffairs.storage import Database
from bayaffairs.travel.bookings import Booking, TravelBookings, refund_amount
from bayaffairs.travel.carriers import Carriers
from bayaffairs.travel.charges import Charges
from bayaffairs.travel.claims import PaymentClaims
from bayaffairs.travel.confirming import CarrierConfirming
from bayaffairs.travel.errors import (
    BookingNotFound,
    CarrierDeclined,
    ConfirmationPending,
    DepartureCancelled,
    HoldExpired,
    NotCancellable,
    PaymentInProgress,
    PaymentPending,
    SalesClosed,
)
from bayaffairs.travel.ledger import open_charge
from bayaffairs.travel.refunds import RefundOutbox, owe
from bayaffairs.travel.resuming import PaymentResumption
from bayaffairs.travel.tickets import TicketKeys
from bayaffairs.users import UserService

log = logging.getLogger("bayaffairs.travel")


# The carrier's no that also means its hold is gone: the seats cannot come back to `held`.
HOLD_GONE = frozenset({"hold_expired", "hold_released", "unknown_hold", "departed"})


class TravelPayments:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        bookings: TravelBookings,
        carriers: Carriers,
        documents: DocumentService,
        users: UserService,
        providers: Callable[[str], PaymentProvider | None],
        converter: Converter,
        tickets: TicketKeys,
    ) -> None:
        self.db = db
        self.clock = clock
        self.bookings = bookings
        self.carriers = carriers
        self.documents = documents
        self.users = users
        self.providers = providers
        self.converter = converter
        self.tickets = tickets
        self.claims = PaymentClaims(db, clock, bookings)
        self.charges = Charges(db, clock, self._provider, converter, self.claims)
        self.confirming = CarrierConfirming(db, clock, carriers, documents, tickets)
        self.refunds = RefundOutbox(db, clock, bookings.settings, carriers, self._provider)
        self.resumption = PaymentResumption(
            db, bookings, carriers, self._provider, self.claims, self.charges, self.confirming, self.refunds
        )

    def _provider(self, provider_id: str) -> PaymentProvider | None:
        """The provider by id, looked up on each use (so a replaced lookup takes effect)."""
        return self.providers(provider_id)

    async def pay(self, user_id: str, booking_id: str) -> Booking:
        now = self.clock.now()
        async with self.db.acquire() as conn:
            row = await q.get(conn, booking_id, user_id)
        if row is None:
            raise BookingNotFound()
        if row.status == "confirmed":
            return await self.bookings.get(user_id, booking_id)
        if row.status == "paying":
            return await self._pay_again(row)
        self._payable(row, now)
        if row.expires_at <= now:
            await self.bookings.release(row.id, "expired")
            raise HoldExpired()
        carrier = self.carriers.get(row.carrier)
        assert carrier is not None
        async with self.db.acquire() as conn:
            departure = await dq.get_departure(conn, row.departure_id)
        assert departure is not None
        if departure.cancelled_at is not None:
            await self.bookings.release(row.id, "departure_cancelled")
            raise DepartureCancelled(details={"departure_id": departure.id})
        try:
            self.bookings.check_sales_open(carrier, departure.departs_at, now)
        except SalesClosed:
            await self.bookings.release(row.id, "sales_closed")
            raise
        user = await self.users.get(user_id)
        if user.wallet is None:
            raise Forbidden("wallet_required")
        provider = self.providers(user.wallet.provider)
        if provider is None:
            raise PartnerError("payment_provider_unavailable")
        manifest, planned = await self.confirming.manifest(user_id, row, carrier)

        async with self.db.acquire() as conn:
            claimed = await q.move(
                conn, row.id, from_status=("held",), to_status="paying", at=now, unexpired_at=now
            )
            if claimed is None:
                current = await q.get(conn, row.id, user_id)
        if claimed is None:
            if current is not None and current.status == "confirmed":
                return await self.bookings.get(user_id, booking_id)
            if current is not None:
                self._payable(current, self.clock.now())
            raise HoldExpired()

        charge = await self.charges.charge(
            claimed, provider, user.wallet.provider, user.wallet.currency, user_id
        )
        try:
            confirmation, signed = await self.confirming.confirm(claimed, carrier, manifest)
        except DepartureCancelled:
            await self.resumption.undo_for_cancelled_departure(claimed, charge, carrier_cancel=False)
            raise
        except CarrierDeclined as exc:
            await self.refunds.refund(claimed.id, charge, "confirmation_failed")
            if exc.details.get("reason") in HOLD_GONE:
                await self.bookings.release(
                    claimed.id, "payment_failed", tell_carrier=False, from_status=("paying",)
                )
            else:
                await self.claims.give_back(claimed)
            raise
        except Exception as exc:
            log.warning("booking %s: confirmation unknown (%s); left paying", claimed.id, exc)
            await self.claims.hand_back(claimed)
            raise ConfirmationPending() from exc
        await self.resumption.finish(claimed, planned, confirmation, signed, charge)
        return await self.bookings.get(user_id, booking_id)

    async def _pay_again(self, row: q.BookingRow) -> Booking:
        """A payment retried while its booking is `paying`: take its lease (409 while another
        holds it) and resume it; with no money standing, pay from the start."""
        leased = await self.claims.lease(row.id)
        if leased is None:
            raise PaymentInProgress(details={"retry_after": 1})
        outcome, refusal = await self.resumption.resume(leased)
        if outcome == "refunded" and refusal is not None:
            raise refusal
        if outcome == "charge_unknown":
            await self.claims.hand_back(leased)
            raise PaymentPending(details={"booking_id": row.id})
        if outcome == "waiting":
            await self.claims.hand_back(leased)
            raise ConfirmationPending()
        if outcome == "given_back":
            return await self.pay(row.user_id, row.id)
        return await self.bookings.get(row.user_id, row.id)

    @staticmethod
    def _payable(row: q.BookingRow, now: datetime) -> None:
        if row.status == "paying":  # claimed by another payment just now
            raise PaymentInProgress(details={"retry_after": 1})
        if row.status == "cancelled":
            raise Conflict("booking_cancelled")
        if row.status == "released":
            raise HoldExpired(details={"reason": row.release_reason})

    # -- cancelling ------------------------------------------------------------------------

    async def cancel(self, user_id: str, booking_id: str) -> Booking:
        """Cancel the rider's booking. A held one is released. A paid one is cancelled on our
        side in one transaction (booking, tickets, seats, the refund owed by the carrier's
        tiers), then the carrier's cancellation and the refund are worked off through the
        outbox. A booking being paid for is 409 `payment_in_progress`: the payment ends it
        first, confirmed (then cancel it) or released."""
        now = self.clock.now()
        async with self.db.acquire() as conn:
            row = await q.get(conn, booking_id, user_id)
        if row is None:
            raise BookingNotFound()
        if row.status == "held":
            if await self.bookings.release(row.id, "cancelled_by_rider"):
                return await self.bookings.get(user_id, booking_id)
            async with self.db.acquire() as conn:  # a payment claimed it meanwhile
                row = await q.get(conn, booking_id, user_id)
            assert row is not None
        if row.status == "paying":
            raise PaymentInProgress(details={"retry_after": 1})
        if (row.status, row.release_reason) == ("cancelled", "departure_cancelled"):
            await self.refunds.bring_forward(row.id, "departure_cancelled")  # no move: the money now
            return await self.bookings.get(user_id, booking_id)
        if row.status != "confirmed":
            raise NotCancellable(details={"status": row.status})
        carrier = self.carriers.get(row.carrier)
        assert carrier is not None
        departs_at = await self.confirming.departs_at(row.departure_id)
        if departs_at <= now:
            raise NotCancellable(details={"status": row.status, "reason": "departed"})
        percent = carrier.timetable.refund_percent((departs_at - now).total_seconds() / 60)
        async with self.db.transaction() as conn:
            if any(t.status == "boarded" for t in await q.lock_tickets(conn, row.id)):
                raise NotCancellable(details={"status": row.status, "reason": "boarded"})
            done = await q.move(conn, row.id, from_status=("confirmed",), to_status="cancelled", at=now)
            if done is None:
                raise NotCancellable(details={"status": "cancelled"})
            await q.cancel_tickets(conn, done.id)
            charge = open_charge(await q.payments(conn, done.id), await fq.of_bookings(conn, [done.id]))
            refund_id = ""
            if charge is not None:
                amount = refund_amount(charge.amount, percent)
                refund_id = await owe(conn, done.id, charge, amount, "cancellation", now, carrier_cancel=True)
            else:
                log.error("booking %s: confirmed without a charge standing; nothing to refund", done.id)
            # Last: the departure's seat row is shared by every booking on it; hold it briefly.
            await dq.return_sold(conn, done.departure_id, done.fare_class, done.seats)
        await self.refunds.work_all([refund_id])
        return await self.bookings.get(user_id, booking_id)
