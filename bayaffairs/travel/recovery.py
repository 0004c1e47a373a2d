"""The sweeper's repairs: what a failure or a dead process left half done is finished or undone.

- A payment abandoned in `paying` (its process died between claiming the booking and finishing)
  is taken up once it is `payment_recovery_seconds` old: a charge asked of the provider but never
  recorded is re-driven with the same reference and amount (the provider answers a reference
  with its first result, so this never charges twice); with money taken the seats are confirmed
  at the carrier (idempotent per our booking id) and tickets issued, or the charge is refunded
  when the carrier says no; with no money taken the claim is undone (held, or released once the
  hold ran out). A carrier or provider still failing leaves it for the next sweep.
- A refund the provider could not be reached for is retried with the same reference, a new
  append-only row per attempt, after `refund_retry_seconds` doubling per attempt (at most an
  hour), `refund_retry_attempts` times in all.
- A hold given up on (the carrier failed or timed out while holding: it may have held the seats
  and answered too late) is released at the carrier.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from bayaffairs.adapters.protocols import ChargeRequest, PaymentOutcome, RefundRequest
from bayaffairs.db.queries import travel_bookings as q
from bayaffairs.db.queries import travel_recovery as rq
from bayaffairs.errors import DomainError
from bayaffairs.ids import new_id
from bayaffairs.money import Money
from bayaffairs.travel.errors import CarrierDeclined, CarrierFailed, CarrierTimeout
from bayaffairs.travel.payments import TravelPayments, _charged

log = logging.getLogger("bayaffairs.travel")
MAX_BACKOFF_SECONDS = 3600.0
LOOK_BACK = timedelta(days=30)


def open_charge(rows: list[q.PaymentRow]) -> q.PaymentRow | None:
    """The latest succeeded charge no refund (made or being retried) names, if any."""
    refunded = {r.charge_id for r in rows if r.kind == "refund"}
    for row in reversed(rows):
        if row.kind == "charge" and row.succeeded and row.id not in refunded:
            return row
    return None


class TravelRecovery:
    def __init__(self, payments: TravelPayments) -> None:
        self.payments = payments
        self.db = payments.db
        self.clock = payments.clock
        self.settings = payments.bookings.settings

    async def sweep(self) -> int:
        """One pass of every repair; what each did, counted."""
        return (
            await self.recover_payments() + await self.retry_refunds() + await self.release_given_up_holds()
        )

    # -- abandoned payments ------------------------------------------------------------------

    async def recover_payments(self, batch: int = 50) -> int:
        now = self.clock.now()
        grace = timedelta(seconds=self.settings.payment_recovery_seconds)
        async with self.db.transaction() as conn:
            rows = await rq.lease_abandoned_payments(conn, now - grace, now, batch)
        done = 0
        for row in rows:
            try:
                outcome = await self.recover_payment(row)
            except Exception:
                log.exception("booking %s: recovering its payment failed; next sweep retries", row.id)
                continue
            log.info("booking %s: abandoned payment %s", row.id, outcome)
            done += outcome != "waiting"
        return done

    async def recover_payment(self, row: q.BookingRow) -> str:
        """Finish or undo one leased `paying` booking: `confirmed`, `refunded`, `given_back`,
        or `waiting` (a partner still fails; the next sweep tries again)."""
        p = self.payments
        carrier = p.carriers.get(row.carrier)
        if carrier is None:
            log.error("booking %s: carrier %s is not configured; left paying", row.id, row.carrier)
            return "waiting"
        if not await self._record_unrecorded_charges(row):
            return "waiting"
        async with self.db.acquire() as conn:
            charge = open_charge(await q.payments(conn, row.id))
        if charge is None:
            await p._give_back(row)
            return "given_back"
        try:
            manifest, planned = await p._manifest(row.user_id, row, carrier)
            confirmation, signed = await p._confirm(row, carrier, manifest)
        except (CarrierFailed, CarrierTimeout):
            return "waiting"
        except DomainError as exc:  # the carrier said no, or consent was withdrawn meanwhile
            provider = p.providers(charge.provider)
            if provider is None:
                log.error("booking %s: provider %s is gone; refund owed", row.id, charge.provider)
                return "waiting"
            log.info("booking %s: not confirmed on recovery (%s); refunding", row.id, exc.code)
            await p._refund(row, provider, _charged(charge), "recovery")
            await p.bookings.release(
                row.id, "payment_failed", tell_carrier=not isinstance(exc, CarrierDeclined)
            )
            return "refunded"
        await p._finish(row, row.user_id, planned, confirmation, signed)
        return "confirmed"

    async def _record_unrecorded_charges(self, row: q.BookingRow) -> bool:
        """Re-drive every charge asked of the provider and never recorded; False if one still
        cannot be settled."""
        async with self.db.acquire() as conn:
            intents = await rq.unrecorded_charges(conn, row.id)
        for intent in intents:
            provider = self.payments.providers(intent.provider)
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

    # -- failed refunds ----------------------------------------------------------------------

    async def retry_refunds(self, batch: int = 100) -> int:
        now = self.clock.now()
        async with self.db.acquire() as conn:
            due = await rq.refunds_due(conn, now - LOOK_BACK, batch)
        done = 0
        for refund in due:
            if refund.attempts >= self.settings.refund_retry_attempts:
                continue
            wait = min(self.settings.refund_retry_seconds * 2 ** (refund.attempts - 1), MAX_BACKOFF_SECONDS)
            if refund.last_at + timedelta(seconds=wait) > now:
                continue
            done += await self._retry_refund(refund)
        return done

    async def _retry_refund(self, refund: rq.RefundDue) -> bool:
        async with self.db.transaction() as conn:
            if not await rq.lock_reference(conn, refund.reference):
                return False  # another worker is on it
            if await rq.reference_settled(conn, refund.reference):
                return False
            last = await conn.fetchrow(
                f"SELECT {q._PAYMENT} FROM travel_payments WHERE id = $1", refund.last_id
            )
            failed = q.PaymentRow(**dict(last))
            charge = next(p for p in await q.payments(conn, failed.booking_id) if p.id == failed.charge_id)
            provider = self.payments.providers(failed.provider)
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
                q.PaymentRow(
                    id=new_id("pay"),
                    booking_id=failed.booking_id,
                    kind="refund",
                    succeeded=bool(outcome and outcome.succeeded),
                    amount=failed.amount,
                    currency=failed.currency,
                    fare_amount=failed.fare_amount,
                    fare_currency=failed.fare_currency,
                    fx_rate=failed.fx_rate,
                    provider=failed.provider,
                    provider_reference=outcome.provider_reference if outcome else None,
                    failure_code=outcome.failure_code if outcome else "provider_unreachable",
                    charge_id=failed.charge_id,
                    created_at=self.clock.now(),
                    reference=refund.reference,
                ),
            )
        return bool(outcome and outcome.succeeded)

    # -- holds given up on -------------------------------------------------------------------

    async def release_given_up_holds(self, batch: int = 100) -> int:
        """A hold the carrier answered too late for is released at the carrier (idempotent per
        our booking id; a hold it does not know is fine). Only once the hold's own request can
        no longer be in flight: `carrier_timeout_seconds` after we gave up on it."""
        p = self.payments
        now = self.clock.now()
        async with self.db.acquire() as conn:
            rows = await rq.holds_given_up(conn, now - timedelta(days=1), batch)
        settled = timedelta(seconds=p.carriers.timeout_seconds)
        done = 0
        for row in rows:
            if row.updated_at + settled > now:
                continue
            carrier = p.carriers.get(row.carrier)
            if carrier is not None:
                try:
                    await p.carriers.call(carrier.adapter.release(row.id))
                except (CarrierFailed, CarrierTimeout):
                    continue
                except CarrierDeclined as exc:
                    log.warning(
                        "booking %s: carrier %s refused the release: %s", row.id, row.carrier, exc.code
                    )
            async with self.db.acquire() as conn:
                await rq.mark_released_at_carrier(conn, row.id, now)
            done += 1
        return done
