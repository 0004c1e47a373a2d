"""Moving a booking's money in: charging the rider's wallet, and settling charges whose outcome
is unknown. (Money going back is `refunds.py`'s.)

A charge is written down as an intent (its reference, amount and rate) before the provider is
asked. The provider's answer is an append-only `travel_payments` row: `succeeded`, `failed`
(declined), or `unknown` when no answer came (a timeout, a 5xx, garbage): the money may have
moved, so nothing says "not charged" until it is known. An unknown charge keeps its booking
`paying` and is settled under the same reference with the same amount, whatever the rate does
meanwhile: by re-driving the charge while the booking still wants it (the provider answers a
reference with its first result, never a second charge), else by looking the reference up,
which never charges. The row that settles it is appended and the intent marked settled.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from bayaffairs.adapters.protocols import ChargeRequest, PaymentOutcome, PaymentProvider
from bayaffairs.clock import Clock
from bayaffairs.db.queries import travel_bookings as q
from bayaffairs.db.queries import travel_recovery as rq
from bayaffairs.errors import DomainError, PartnerError
from bayaffairs.fx import Converter
from bayaffairs.ids import new_id
from bayaffairs.money import Money
from bayaffairs.storage import Database
from bayaffairs.travel.claims import PaymentClaims
from bayaffairs.travel.errors import PaymentDeclined, PaymentPending

log = logging.getLogger("bayaffairs.travel")


def _charge_row(intent: rq.ChargeIntent, outcome: PaymentOutcome | None, at: datetime) -> q.PaymentRow:
    """The provider's answer to a charge intent (None: no answer) as its payment row."""
    return q.PaymentRow(
        id=new_id("pay"),
        booking_id=intent.booking_id,
        kind="charge",
        succeeded=bool(outcome and outcome.succeeded),
        amount=intent.amount,
        currency=intent.currency,
        fare_amount=intent.fare_amount,
        fare_currency=intent.fare_currency,
        fx_rate=intent.fx_rate,
        provider=intent.provider,
        provider_reference=outcome.provider_reference if outcome else None,
        failure_code=outcome.failure_code if outcome else "outcome_unknown",
        charge_id=None,
        created_at=at,
        reference=intent.reference,
        outcome="unknown" if outcome is None else ("succeeded" if outcome.succeeded else "failed"),
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
    ) -> q.PaymentRow:
        """Charge the booking's fare to the rider's wallet in `currency`; its succeeded row.
        Nothing asked of the provider (the rate failed) or a decline gives the claim back
        (PartnerError, PaymentDeclined); no answer from the provider leaves the charge unknown
        and the booking `paying`, its lease handed back (PaymentPending)."""
        fare = Money(row.total_amount, row.currency)
        try:
            async with self.db.acquire() as conn:
                attempt = await rq.charge_attempts(conn, row.id)
            conversion = await self.converter.charge(fare, currency, self.clock.now())
            intent = rq.ChargeIntent(
                f"{row.id}:charge:{attempt}",
                row.id,
                provider_id,
                user_id,
                conversion.charge.amount,
                conversion.charge.currency,
                fare.amount,
                fare.currency,
                conversion.rate,
                self.clock.now(),
            )
            async with self.db.acquire() as conn:
                await rq.insert_charge_intent(conn, intent)
        except BaseException as exc:
            await self.claims.give_back(row)
            if isinstance(exc, DomainError):
                raise
            if isinstance(exc, Exception):
                raise PartnerError("payment_provider_error") from exc
            raise
        outcome = await self._ask(provider, intent)
        if outcome is None:
            await self.claims.hand_back(row)
            raise PaymentPending(
                details={"booking_id": row.id, "amount": intent.amount, "currency": intent.currency}
            )
        charged = await self._settle(intent, outcome)
        if not outcome.succeeded:
            await self.claims.give_back(row)
            raise PaymentDeclined(details={"failure_code": outcome.failure_code})
        return charged

    async def _ask(self, provider: PaymentProvider, intent: rq.ChargeIntent) -> PaymentOutcome | None:
        """Ask the provider to charge the intent (again: it answers a reference with its first
        result); None, with an `unknown` row recorded once, when no answer came."""
        money = Money(intent.amount, intent.currency)
        try:
            return await provider.charge(
                ChargeRequest(intent.reference, money, intent.account, f"travel booking {intent.booking_id}")
            )
        except Exception:
            log.warning("booking %s: charge %s unknown", intent.booking_id, intent.reference, exc_info=True)
        async with self.db.transaction() as conn:
            if not await rq.heard_of(conn, intent.reference):
                await q.insert_payment(conn, _charge_row(intent, None, self.clock.now()))
        return None

    async def _settle(self, intent: rq.ChargeIntent, outcome: PaymentOutcome) -> q.PaymentRow:
        """Append the provider's definite answer to an intent and mark the intent settled."""
        row = _charge_row(intent, outcome, self.clock.now())
        async with self.db.transaction() as conn:
            await q.insert_payment(conn, row)
            await rq.settle_intent(conn, intent.reference, row.created_at)
        return row

    async def settle_by_charging(self, booking_id: str) -> bool:
        """Re-drive every unsettled charge of a booking whose payment still wants the money,
        with its reference and original amount; False while one is still unknown."""
        async with self.db.acquire() as conn:
            intents = await rq.unsettled_charges(conn, booking_id)
        for intent in intents:
            provider = self.providers(intent.provider)
            if provider is None:
                log.error(
                    "booking %s: provider %s is gone; charge %s unknown",
                    booking_id,
                    intent.provider,
                    intent.reference,
                )
                return False
            outcome = await self._ask(provider, intent)
            if outcome is None:
                return False
            await self._settle(intent, outcome)
        return True

    async def settle_by_lookup(self, intent: rq.ChargeIntent, settle_after: timedelta) -> q.PaymentRow | None:
        """Ask the provider what became of an unknown charge, without charging: its settling
        row, or None while still unknown. A charge the provider never saw is failed once no
        request under its reference can still be on the way (`settle_after`)."""
        provider = self.providers(intent.provider)
        if provider is None:
            return None
        try:
            found = await provider.lookup(intent.reference)
        except Exception:
            log.warning("charge %s: look-up failed; still unknown", intent.reference, exc_info=True)
            return None
        if found is None:
            if intent.created_at + settle_after > self.clock.now():
                return None
            found = PaymentOutcome(False, "", Money(intent.amount, intent.currency), "not_found")
        return await self._settle(intent, found)
