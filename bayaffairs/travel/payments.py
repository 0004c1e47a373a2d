"""Paying for a held booking (charge, carrier confirmation, tickets) and cancelling one (refund).

The booking row is claimed (`held` -> `paying`, only while the hold is unexpired) before any
money moves; the sweeper only releases `held` rows, so a hold expiring while its payment runs
ends as exactly one of confirmed or released. If the charge fails the claim is undone. Once
charged, the carrier's answer decides: a confirmation issues the tickets; a refusal refunds the
charge and undoes the claim; no answer (a timeout, a 5xx, anything unreadable) is *unknown* (the
carrier may have sold the seats), so the booking stays `paying` with the charge standing and is
answered 504 `confirmation_pending`. Whoever holds its lease next (the rider retrying the
payment, or the sweeper, `recovery.py`) asks the carrier again under the same reference
(`resume`). The lease is the booking's `updated_at`: claiming sets it, and a `paying` booking is
taken over only once it is `payment_recovery_seconds` old, so one driver at a time moves money
or confirms; a payment left unknown hands its lease back at once. Payments and refunds are
append-only rows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from bayaffairs import transfers
from bayaffairs.adapters.protocols import (
    CarrierConfirmation,
    CarrierPassenger,
    ChargeRequest,
    PaymentOutcome,
    PaymentProvider,
    RefundRequest,
)
from bayaffairs.clock import Clock
from bayaffairs.db.queries import travel as dq
from bayaffairs.db.queries import travel_bookings as q
from bayaffairs.db.queries import travel_recovery as rq
from bayaffairs.documents.service import DocumentService
from bayaffairs.errors import Conflict, DomainError, Forbidden, PartnerError
from bayaffairs.ids import new_id
from bayaffairs.money import Money
from bayaffairs.storage import Database
from bayaffairs.transit.pricing import Converter
from bayaffairs.travel.bookings import PURPOSE, Booking, TravelBookings, refund_amount
from bayaffairs.travel.carriers import Carrier, Carriers
from bayaffairs.travel.errors import (
    BookingNotFound,
    CarrierDeclined,
    CarrierFailed,
    CarrierTimeout,
    ConfirmationPending,
    HoldExpired,
    NotCancellable,
    PaymentDeclined,
    PaymentInProgress,
)
from bayaffairs.travel.tickets import SignedTicket, TicketKeys
from bayaffairs.users import UserService

log = logging.getLogger("bayaffairs.travel")


@dataclass(frozen=True)
class _Charged:
    payment_id: str
    outcome: PaymentOutcome
    provider_id: str
    fare: Money
    rate: Decimal


def _charged(charge: q.PaymentRow) -> _Charged:
    """A recorded, succeeded charge as the refund path takes it."""
    return _Charged(
        charge.id,
        PaymentOutcome(True, charge.provider_reference or "", Money(charge.amount, charge.currency)),
        charge.provider,
        Money(charge.fare_amount, charge.fare_currency),
        charge.fx_rate,
    )


def open_charge(rows: list[q.PaymentRow]) -> q.PaymentRow | None:
    """The latest succeeded charge no refund (made or being retried) names, if any."""
    refunded = {r.charge_id for r in rows if r.kind == "refund"}
    for row in reversed(rows):
        if row.kind == "charge" and row.succeeded and row.id not in refunded:
            return row
    return None


# The carrier's no that also means its hold is gone: the seats cannot come back to `held`.
HOLD_GONE = frozenset({"hold_expired", "hold_released", "unknown_hold"})


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
        user = await self.users.get(user_id)
        if user.wallet is None:
            raise Forbidden("wallet_required")
        provider = self.providers(user.wallet.provider)
        if provider is None:
            raise PartnerError("payment_provider_unavailable")
        manifest, planned = await self._manifest(user_id, row, carrier)

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

        charged = await self._charge(claimed, provider, user.wallet.provider, user.wallet.currency, user_id)
        try:
            confirmation, signed = await self._confirm(claimed, carrier, manifest)
        except CarrierDeclined as exc:
            await self._refund(claimed, provider, charged, "confirmation_failed")
            if exc.details.get("reason") in HOLD_GONE:
                await self.bookings.release(claimed.id, "payment_failed", tell_carrier=False)
            else:
                await self._give_back(claimed)
            raise
        except Exception as exc:
            log.warning("booking %s: confirmation unknown (%s); left paying", claimed.id, exc)
            await self._hand_back(claimed)
            raise ConfirmationPending() from exc
        await self._finish(claimed, user_id, planned, confirmation, signed)
        return await self.bookings.get(user_id, booking_id)

    async def _pay_again(self, row: q.BookingRow) -> Booking:
        """A payment retried while its booking is `paying`: take its lease (409 while another
        holds it) and resume it; with no money standing, pay from the start."""
        now = self.clock.now()
        async with self.db.acquire() as conn:
            leased = await rq.lease_payment(conn, row.id, now - self._grace, now)
        if leased is None:
            raise PaymentInProgress(details={"retry_after": 1})
        outcome, refusal = await self.resume(leased)
        if outcome == "refunded" and refusal is not None:
            raise refusal
        if outcome == "waiting":
            await self._hand_back(leased)
            raise ConfirmationPending()
        if outcome == "given_back":
            return await self.pay(row.user_id, row.id)
        return await self.bookings.get(row.user_id, row.id)

    @property
    def _grace(self) -> timedelta:
        return timedelta(seconds=self.bookings.settings.payment_recovery_seconds)

    async def _hand_back(self, leased: q.BookingRow) -> None:
        """End a `paying` booking's lease now, so the rider's retry or the next sweep can take
        it up at once."""
        async with self.db.acquire() as conn:
            await rq.end_lease(conn, leased.id, leased.updated_at, self.clock.now() - self._grace)

    async def resume(self, row: q.BookingRow) -> tuple[str, DomainError | None]:
        """Finish or undo one `paying` booking whose lease the caller holds. `confirmed`;
        `refunded` with the carrier's no (the charge refunded, the seats released); `given_back`
        (no money standing: the claim undone, held or released); `waiting` (a partner still
        fails or does not answer: nothing changed, the outcome is still unknown)."""
        carrier = self.carriers.get(row.carrier)
        if carrier is None:
            log.error("booking %s: carrier %s is not configured; left paying", row.id, row.carrier)
            return "waiting", None
        if not await self._record_unrecorded_charges(row):
            return "waiting", None
        async with self.db.acquire() as conn:
            charge = open_charge(await q.payments(conn, row.id))
        if charge is None:
            await self._give_back(row)
            return "given_back", None
        try:
            manifest, planned = await self._manifest(row.user_id, row, carrier)
            confirmation, signed = await self._confirm(row, carrier, manifest)
        except (CarrierFailed, CarrierTimeout):
            return "waiting", None
        except DomainError as exc:  # the carrier said no, or consent was withdrawn meanwhile
            provider = self.providers(charge.provider)
            if provider is None:
                log.error("booking %s: provider %s is gone; refund owed", row.id, charge.provider)
                return "waiting", None
            log.info("booking %s: not confirmed (%s); refunding", row.id, exc.code)
            await self._refund(row, provider, _charged(charge), "recovery")
            await self.bookings.release(
                row.id, "payment_failed", tell_carrier=not isinstance(exc, CarrierDeclined)
            )
            return "refunded", exc
        except Exception:
            log.warning("booking %s: confirmation still unknown", row.id, exc_info=True)
            return "waiting", None
        await self._finish(row, row.user_id, planned, confirmation, signed)
        return "confirmed", None

    async def _record_unrecorded_charges(self, row: q.BookingRow) -> bool:
        """Re-drive every charge asked of the provider and never recorded (the provider answers
        a reference with its first result: never a second charge); False if one still cannot
        be settled."""
        async with self.db.acquire() as conn:
            intents = await rq.unrecorded_charges(conn, row.id)
        for intent in intents:
            provider = self.providers(intent.provider)
            if provider is None:
                log.error(
                    "booking %s: provider %s is gone; charge %s unknown",
                    row.id,
                    intent.provider,
                    intent.reference,
                )
                return False
            money = Money(intent.amount, intent.currency)
            try:
                outcome = await provider.charge(
                    ChargeRequest(intent.reference, money, intent.account, f"travel booking {row.id}")
                )
            except Exception:
                log.warning("booking %s: charge %s still unsettled", row.id, intent.reference, exc_info=True)
                return False
            async with self.db.acquire() as conn:
                await q.insert_payment(
                    conn,
                    q.PaymentRow(
                        id=new_id("pay"),
                        booking_id=row.id,
                        kind="charge",
                        succeeded=outcome.succeeded,
                        amount=intent.amount,
                        currency=intent.currency,
                        fare_amount=intent.fare_amount,
                        fare_currency=intent.fare_currency,
                        fx_rate=intent.fx_rate,
                        provider=intent.provider,
                        provider_reference=outcome.provider_reference,
                        failure_code=outcome.failure_code,
                        charge_id=None,
                        created_at=self.clock.now(),
                        reference=intent.reference,
                    ),
                )
        return True

    async def _confirm(
        self, claimed: q.BookingRow, carrier: Carrier, manifest: list[CarrierPassenger]
    ) -> tuple[CarrierConfirmation, list[SignedTicket]]:
        """Sell the held seats at the carrier (our booking id is its idempotency key) and sign
        the tickets; nothing is written."""
        confirmation = await self.carriers.call(carrier.adapter.confirm(claimed.id, manifest))
        departs_at = await self._departs_at(claimed.departure_id)
        signed = await self.tickets.sign(claimed.departure_id, int(departs_at.timestamp()), claimed.seats)
        return confirmation, signed

    async def _finish(
        self,
        claimed: q.BookingRow,
        user_id: str,
        planned: list[transfers.PlannedTransfer],
        confirmation: CarrierConfirmation,
        signed: list[SignedTicket],
    ) -> None:
        at = self.clock.now()
        async with self.db.transaction() as conn:
            done = await q.move(conn, claimed.id, from_status=("paying",), to_status="confirmed", at=at)
            if done is None:  # recovery (or a payment it raced) finished it first
                return
            await dq.sell_held(conn, done.departure_id, done.fare_class, done.seats)
            if confirmation.carrier_reference != (claimed.carrier_reference or claimed.id):
                await q.set_carrier_reference(conn, done.id, confirmation.carrier_reference)
            await transfers.record(conn, user_id, planned, done.id, at)
            await q.insert_tickets(
                conn,
                [
                    q.TicketRow(
                        t.id, done.id, i, done.departure_id, done.carrier, t.payload, "valid", None, at
                    )
                    for i, t in enumerate(signed)
                ],
            )

    @staticmethod
    def _payable(row: q.BookingRow, now: datetime) -> None:
        if row.status == "paying":  # claimed by another payment just now
            raise PaymentInProgress(details={"retry_after": 1})
        if row.status == "cancelled":
            raise Conflict("booking_cancelled")
        if row.status == "released":
            raise HoldExpired(details={"reason": row.release_reason})

    async def _manifest(
        self, user_id: str, row: q.BookingRow, carrier: Carrier
    ) -> tuple[list[CarrierPassenger], list[transfers.PlannedTransfer]]:
        """The passengers as the carrier may see them (only its manifest's fields), and the
        transfers that hand-over makes; raises ConsentRequired before any money moves."""
        async with self.db.acquire() as conn:
            passengers = await q.passengers(conn, [row.id])
        docs = [await self.documents.get(user_id, p.document_id) for p in passengers]
        recipient = self.carriers.recipient(carrier)
        async with self.db.acquire() as conn:
            planned = await transfers.plan(
                conn,
                user_id,
                [transfers.Subject(d.id, d.type, d.issuing, d.number_masked, d.holder_name) for d in docs],
                recipient,
                PURPOSE,
            )
        manifest = []
        for p, d in zip(passengers, docs, strict=True):
            available = {
                "holder_name": d.holder_name,
                "document_type": d.type,
                "document_expires": d.expires.isoformat(),
                "issuing": d.issuing,
            }
            if "document_number" in recipient.fields:
                available["document_number"] = await self.documents.reveal_number(user_id, d.id)
            if d.date_of_birth:
                available["date_of_birth"] = d.date_of_birth.isoformat()
            manifest.append(
                CarrierPassenger(
                    f"{row.id}.{p.position}", transfers.minimal_fields(available, recipient.fields)
                )
            )
        return manifest, planned

    async def _departs_at(self, departure_id: str) -> datetime:
        async with self.db.acquire() as conn:
            departure = await dq.get_departure(conn, departure_id)
        assert departure is not None
        return departure.departs_at

    async def _charge(
        self, row: q.BookingRow, provider: PaymentProvider, provider_id: str, currency: str, user_id: str
    ) -> _Charged:
        fare = Money(row.total_amount, row.currency)
        try:
            async with self.db.acquire() as conn:
                attempt = len(await q.payments(conn, row.id))
            charge = await self.converter.charge(fare, currency, self.clock.now())
            reference = f"{row.id}:charge:{attempt}"
            async with self.db.acquire() as conn:
                await rq.insert_charge_intent(
                    conn,
                    rq.ChargeIntent(
                        reference,
                        row.id,
                        provider_id,
                        user_id,
                        charge.charge.amount,
                        charge.charge.currency,
                        fare.amount,
                        fare.currency,
                        charge.rate,
                        self.clock.now(),
                    ),
                )
            outcome = await provider.charge(
                ChargeRequest(reference, charge.charge, user_id, f"travel booking {row.id}")
            )
        except BaseException as exc:
            await self._give_back(row)
            if isinstance(exc, DomainError):
                raise
            if isinstance(exc, Exception):
                raise PartnerError("payment_provider_error") from exc
            raise
        payment_id = new_id("pay")
        async with self.db.acquire() as conn:
            await q.insert_payment(
                conn,
                q.PaymentRow(
                    id=payment_id,
                    booking_id=row.id,
                    kind="charge",
                    succeeded=outcome.succeeded,
                    amount=charge.charge.amount,
                    currency=charge.charge.currency,
                    fare_amount=fare.amount,
                    fare_currency=fare.currency,
                    fx_rate=charge.rate,
                    provider=provider_id,
                    provider_reference=outcome.provider_reference,
                    failure_code=outcome.failure_code,
                    charge_id=None,
                    created_at=self.clock.now(),
                    reference=reference,
                ),
            )
        if not outcome.succeeded:
            await self._give_back(row)
            raise PaymentDeclined(details={"failure_code": outcome.failure_code})
        return _Charged(payment_id, outcome, provider_id, fare, charge.rate)

    async def _refund(
        self,
        row: q.BookingRow,
        provider: PaymentProvider,
        charged: _Charged,
        why: str,
        amount: int | None = None,
    ) -> Money:
        paid = charged.outcome.amount
        money = Money(paid.amount if amount is None else amount, paid.currency)
        fare_amount = (
            charged.fare.amount
            if amount is None
            else charged.fare.amount * money.amount // max(paid.amount, 1)
        )
        outcome: PaymentOutcome | None = None
        reference = f"{charged.payment_id}:refund:{why}"
        try:
            outcome = await provider.refund(
                RefundRequest(
                    reference,
                    charged.payment_id,
                    charged.outcome.provider_reference,
                    money,
                )
            )
        except Exception:
            log.exception("booking %s: refund of %s failed; record kept for retry", row.id, money)
        async with self.db.acquire() as conn:
            await q.insert_payment(
                conn,
                q.PaymentRow(
                    id=new_id("pay"),
                    booking_id=row.id,
                    kind="refund",
                    succeeded=bool(outcome and outcome.succeeded),
                    amount=money.amount,
                    currency=money.currency,
                    fare_amount=fare_amount,
                    fare_currency=charged.fare.currency,
                    fx_rate=charged.rate,
                    provider=charged.provider_id,
                    provider_reference=outcome.provider_reference if outcome else None,
                    failure_code=(outcome.failure_code if outcome else "provider_unreachable"),
                    charge_id=charged.payment_id,
                    created_at=self.clock.now(),
                    reference=reference,
                ),
            )
        return money

    async def _give_back(self, row: q.BookingRow) -> None:
        """Undo a payment's claim: back to held while the hold lasts, else released."""
        now = self.clock.now()
        async with self.db.acquire() as conn:
            back = await q.move(
                conn, row.id, from_status=("paying",), to_status="held", at=now, unexpired_at=now
            )
        if back is None:
            await self.bookings.release(row.id, "payment_failed")

    # -- cancelling ------------------------------------------------------------------------

    async def cancel(self, user_id: str, booking_id: str) -> Booking:
        now = self.clock.now()
        async with self.db.acquire() as conn:
            row = await q.get(conn, booking_id, user_id)
        if row is None:
            raise BookingNotFound()
        if row.status == "held":
            await self.bookings.release(row.id, "cancelled_by_rider")
            return await self.bookings.get(user_id, booking_id)
        if row.status != "confirmed":
            raise NotCancellable(details={"status": row.status})
        departs_at = await self._departs_at(row.departure_id)
        if departs_at <= now:
            raise NotCancellable(details={"status": row.status, "reason": "departed"})
        async with self.db.acquire() as conn:
            if any(t.status == "boarded" for t in await q.tickets(conn, [row.id])):
                raise NotCancellable(details={"status": row.status, "reason": "boarded"})
        carrier = self.carriers.get(row.carrier)
        assert carrier is not None
        await self.carriers.call(carrier.adapter.cancel(row.id))
        async with self.db.transaction() as conn:
            done = await q.move(conn, row.id, from_status=("confirmed",), to_status="cancelled", at=now)
            if done is None:
                raise NotCancellable(details={"status": "cancelled"})
            if any(t.status == "boarded" for t in await q.tickets(conn, [done.id])):
                raise NotCancellable(details={"status": done.status, "reason": "boarded"})
            await dq.return_sold(conn, done.departure_id, done.fare_class, done.seats)
            await q.cancel_tickets(conn, done.id)
            payments = await q.payments(conn, done.id)
        charge = next(p for p in reversed(payments) if p.kind == "charge" and p.succeeded)
        percent = carrier.timetable.refund_percent((departs_at - now).total_seconds() / 60)
        amount = refund_amount(charge.amount, percent)
        if amount > 0:
            provider = self.providers(charge.provider)
            charged = _charged(charge)
            if provider is None:
                log.error("booking %s: payment provider %s is gone; refund owed", row.id, charge.provider)
            else:
                await self._refund(done, provider, charged, "cancellation", amount)
        return await self.bookings.get(user_id, booking_id)
