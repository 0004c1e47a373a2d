"""Moving a booking's money: charging the rider's wallet and refunding it.

A charge is written down as an intent (its reference, amount and rate) before the provider is
asked, so a process dying in between leaves a reference to re-drive, never a second charge; the
provider answers a reference with its first result. Every charge and refund attempt is a new
append-only `travel_payments` row; a refund the provider could not be reached for is recorded as
failed and retried later under the same reference (`retry_refund`, driven by `recovery.py`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from bayaffairs.adapters.protocols import ChargeRequest, PaymentOutcome, PaymentProvider, RefundRequest
from bayaffairs.clock import Clock
from bayaffairs.db.queries import travel_bookings as q
from bayaffairs.db.queries import travel_recovery as rq
from bayaffairs.errors import DomainError, PartnerError
from bayaffairs.fx import Converter
from bayaffairs.ids import new_id
from bayaffairs.money import Money
from bayaffairs.storage import Database
from bayaffairs.travel.claims import PaymentClaims
from bayaffairs.travel.errors import PaymentDeclined

log = logging.getLogger("bayaffairs.travel")


@dataclass(frozen=True)
class Charged:
    """A succeeded charge, as a refund of it needs it."""

    payment_id: str
    outcome: PaymentOutcome
    provider_id: str
    fare: Money
    rate: Decimal

    @classmethod
    def of(cls, charge: q.PaymentRow) -> Charged:
        """A recorded, succeeded charge as the refund path takes it."""
        return cls(
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


def _charge_row(
    payment_id: str, intent: rq.ChargeIntent, outcome: PaymentOutcome, at: datetime
) -> q.PaymentRow:
    """The provider's answer to a charge intent, as its payment row."""
    return q.PaymentRow(
        id=payment_id,
        booking_id=intent.booking_id,
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
        created_at=at,
        reference=intent.reference,
    )


def _refund_row(
    booking_id: str,
    reference: str,
    money: Money,
    fare: Money,
    rate: Decimal,
    provider_id: str,
    charge_id: str | None,
    outcome: PaymentOutcome | None,
    at: datetime,
) -> q.PaymentRow:
    """One refund attempt as its payment row; no outcome means the provider was not reached."""
    return q.PaymentRow(
        id=new_id("pay"),
        booking_id=booking_id,
        kind="refund",
        succeeded=bool(outcome and outcome.succeeded),
        amount=money.amount,
        currency=money.currency,
        fare_amount=fare.amount,
        fare_currency=fare.currency,
        fx_rate=rate,
        provider=provider_id,
        provider_reference=outcome.provider_reference if outcome else None,
        failure_code=outcome.failure_code if outcome else "provider_unreachable",
        charge_id=charge_id,
        created_at=at,
        reference=reference,
    )


class Charges:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        providers: Callable[[str], PaymentProvider | None],
        converter: Converter,
        claims: PaymentClaims,
    ) -> None:
        self.db = db
        self.clock = clock
        self.providers = providers
        self.converter = converter
        self.claims = claims

    async def charge(
        self, row: q.BookingRow, provider: PaymentProvider, provider_id: str, currency: str, user_id: str
    ) -> Charged:
        """Charge the booking's fare to the rider's wallet in `currency`; on failure or a decline
        the claim is given back (raises PartnerError or PaymentDeclined)."""
        fare = Money(row.total_amount, row.currency)
        try:
            async with self.db.acquire() as conn:
                attempt = len(await q.payments(conn, row.id))
            charge = await self.converter.charge(fare, currency, self.clock.now())
            intent = rq.ChargeIntent(
                f"{row.id}:charge:{attempt}",
                row.id,
                provider_id,
                user_id,
                charge.charge.amount,
                charge.charge.currency,
                fare.amount,
                fare.currency,
                charge.rate,
                self.clock.now(),
            )
            async with self.db.acquire() as conn:
                await rq.insert_charge_intent(conn, intent)
            outcome = await provider.charge(
                ChargeRequest(intent.reference, charge.charge, user_id, f"travel booking {row.id}")
            )
        except BaseException as exc:
            await self.claims.give_back(row)
            if isinstance(exc, DomainError):
                raise
            if isinstance(exc, Exception):
                raise PartnerError("payment_provider_error") from exc
            raise
        payment_id = new_id("pay")
        async with self.db.acquire() as conn:
            await q.insert_payment(conn, _charge_row(payment_id, intent, outcome, self.clock.now()))
        if not outcome.succeeded:
            await self.claims.give_back(row)
            raise PaymentDeclined(details={"failure_code": outcome.failure_code})
        return Charged(payment_id, outcome, provider_id, fare, charge.rate)

    async def record_unrecorded_charges(self, row: q.BookingRow) -> bool:
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
                await q.insert_payment(conn, _charge_row(new_id("pay"), intent, outcome, self.clock.now()))
        return True

    async def refund(
        self,
        row: q.BookingRow,
        provider: PaymentProvider,
        charged: Charged,
        why: str,
        amount: int | None = None,
    ) -> Money:
        """Refund `amount` (all of it by default) of a charge; a provider out of reach is
        recorded as a failed attempt for `retry_refund`."""
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
                _refund_row(
                    row.id,
                    reference,
                    money,
                    Money(fare_amount, charged.fare.currency),
                    charged.rate,
                    charged.provider_id,
                    charged.payment_id,
                    outcome,
                    self.clock.now(),
                ),
            )
        return money

    async def retry_refund(self, refund: rq.RefundDue) -> bool:
        """Ask again for a refund whose last attempt failed, under its reference and with its
        amount (one worker at a time per reference); True once the provider has refunded."""
        async with self.db.transaction() as conn:
            if not await rq.lock_reference(conn, refund.reference):
                return False  # another worker is on it
            if await rq.reference_settled(conn, refund.reference):
                return False
            failed = await q.payment(conn, refund.last_id)
            assert failed is not None
            charge = next(p for p in await q.payments(conn, failed.booking_id) if p.id == failed.charge_id)
            provider = self.providers(failed.provider)
            outcome: PaymentOutcome | None = None
            money = Money(failed.amount, failed.currency)
            if provider is None:
                log.error("booking %s: provider %s is gone; refund owed", failed.booking_id, failed.provider)
            else:
                try:
                    outcome = await provider.refund(
                        RefundRequest(refund.reference, charge.id, charge.provider_reference or "", money)
                    )
                except Exception:
                    log.warning(
                        "refund %s: attempt %d failed", refund.reference, refund.attempts + 1, exc_info=True
                    )
            await q.insert_payment(
                conn,
                _refund_row(
                    failed.booking_id,
                    refund.reference,
                    money,
                    Money(failed.fare_amount, failed.fare_currency),
                    failed.fx_rate,
                    failed.provider,
                    failed.charge_id,
                    outcome,
                    self.clock.now(),
                ),
            )
        return bool(outcome and outcome.succeeded)
