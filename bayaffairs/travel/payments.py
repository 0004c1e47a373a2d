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
from bayaffairs.documents.service import DocumentService
from bayaffairs.errors import Conflict, Forbidden, PartnerError
from bayaffairs.fx import Converter
from bayaffairs.storage import Database
from bayaffairs.travel.bookings import Booking, TravelBookings
from bayaffairs.travel.cancelling import Cancellations
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
    PaymentInProgress,
    PaymentPending,
    SalesClosed,
)
from bayaffairs.travel.refunds import RefundOutbox
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
        self.cancellations = Cancellations(db, clock, bookings, carriers, self.confirming, self.refunds)
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

    async def cancel(self, user_id: str, booking_id: str) -> Booking:
        """The rider's cancellation of the whole booking (`cancelling.py`)."""
        return await self.cancellations.cancel(user_id, booking_id)

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
