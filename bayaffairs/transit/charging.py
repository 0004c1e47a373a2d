"""Charging riders for their journeys: ride now, pay later.

A journey priced at the gate (or closed as unfinished) waits as `pending` (`held`: journeys
closed before issue 15, held for `repair_days`); this job hands it to the rider's payment
provider with the journey id as the idempotency reference (a retry after a crash never charges
twice) and marks it charged or failed. A journey priced while no FX rate was at hand is
converted here first. A declined charge becomes a debt (bayaffairs/transit/debts.py): the
account is denied while it is unpaid, and it is retried and payable. The journey of a rider
whose account was erased since (an offline tap scanned before, uploaded after) is the
pseudonym's: its fare becomes a debt of the pseudonym at once, with no wallet asked. A provider that does not
answer, or is not enabled (our configuration, not the rider's fault), leaves the charge for the
next round. Claiming commits before any partner is called, so no transaction waits on one; a
claim left by a dead worker is retried after `stale_seconds`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bayaffairs.adapters.protocols import ChargeRequest, PaymentProvider, RefundRequest
from bayaffairs.clock import Clock
from bayaffairs.db.queries import journeys as q
from bayaffairs.errors import DomainError
from bayaffairs.fx import Converter
from bayaffairs.money import Money
from bayaffairs.storage import Database
from bayaffairs.transit.debts import Debts
from bayaffairs.transit.products import FareProducts

log = logging.getLogger("bayaffairs.charging")
FINISH_EVERY = 50  # charged journeys recorded together


class RideCharges:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        providers: Callable[[str], PaymentProvider | None],
        converter: Converter,
        debts: Debts,
        products: FareProducts,
        *,
        hold_seconds: int,
        stale_seconds: int = 300,
    ) -> None:
        self.db = db
        self.clock = clock
        self.providers = providers
        self.converter = converter
        self.debts = debts
        self.products = products
        self.hold_seconds = hold_seconds
        self.stale_seconds = stale_seconds

    async def charge_pending(self, limit: int = 200) -> int:
        async with self.db.transaction() as conn:
            jobs = await q.claim_charges(conn, limit, self.stale_seconds, self.hold_seconds)
            # Fare products are priced in the claim: a journey repriced (late tap-out, repair)
            # once it is `charging` then finds the charge it will be charged and refunds from that
            # (priced after the claim, the repricing refunded the difference from the maximum and
            # the products then discounted the new fare as well). Riders in order: each holds
            # its product locks to the commit, and two workers must not wait on each other.
            priced = {}
            for job in sorted(jobs, key=lambda j: (j.user_id, j.journey_id)):
                priced[job.journey_id] = await self.products.price_in(conn, job)
            jobs = [priced[job.journey_id] for job in jobs]
        charged: list[tuple[str, str | None]] = []  # (journey, the provider's reference)
        try:
            for job in jobs:
                if job.erased:
                    # A tap scanned before the rider's account was erased, uploaded after it: the
                    # journey is the pseudonym's, and no wallet is linked to a pseudonym (linking one
                    # back would undo the erasure). Its fare is owed all the same: a debt, not retried.
                    log.warning("journey %s: the rider was erased; its fare is a debt", job.journey_id)
                    outcome, reference = "failed", None
                else:
                    outcome, reference = await self._charge(job)
                if outcome == "charged":
                    charged.append((job.journey_id, reference))
                    if len(charged) >= FINISH_EVERY:
                        await self._finish_charged(charged)
                    continue
                if outcome == "retry":
                    async with self.db.acquire() as conn:
                        await q.release_charge(conn, job.journey_id)
                    continue
                async with self.db.transaction() as conn:
                    await q.finish_charge(conn, job.journey_id, charged=False, reference=reference)
                    await q.net_of_refunds(conn, job.journey_id)
                    await self.debts.declined(conn, job.journey_id, job.user_id, retry=not job.erased)
        finally:
            # also when a provider call failed unexpectedly: what went through is recorded
            await self._finish_charged(charged)
        return len(jobs)

    async def _finish_charged(self, charged: list[tuple[str, str | None]]) -> None:
        """Mark journeys charged, one statement for many (a commit per journey cost more than the
        charge: issue 15, throughput). Until then a journey is `charging`: a retry after a crash
        charges it again under the same reference, which the provider answers once."""
        if not charged:
            return
        async with self.db.acquire() as conn:
            await q.finish_charges(conn, charged)
        charged.clear()

    async def refund_due(self, limit: int = 200) -> int:
        """Give back the refund lines of journeys whose charge went through (a late tap-out or a
        repair priced them lower): once per line, the line's id the provider's idempotency key."""
        async with self.db.transaction() as conn:
            jobs = await q.claim_refunds(conn, limit, self.stale_seconds)
        for job in jobs:
            status, reference = await self._refund(job)
            async with self.db.acquire() as conn:
                await q.finish_refund(conn, job.id, status=status, reference=reference, at=self.clock.now())
        return len(jobs)

    async def _refund(self, job: q.RefundJob) -> tuple[str, str | None]:
        """("refunded" | "failed" | "pending", the provider's reference)."""
        provider = self.providers(job.provider) if job.provider else None
        if provider is None or job.charge_reference is None:
            log.error("refund %s: payment provider %r is not enabled; will retry", job.id, job.provider)
            return "pending", None
        try:
            outcome = await provider.refund(
                RefundRequest(
                    reference=job.id,
                    charge_reference=job.journey_id,
                    provider_charge_id=job.charge_reference,
                    amount=Money(job.amount, job.currency),
                )
            )
        except DomainError as exc:
            log.warning("refund %s: not answered (%s); will retry", job.id, exc.code)
            return "pending", None
        if not outcome.succeeded:
            log.error("refund %s refused by the provider: %s", job.id, outcome.failure_code)
        return ("refunded" if outcome.succeeded else "failed"), outcome.provider_reference

    async def _amount(self, job: q.ChargeJob) -> Money | None:
        if job.amount is not None and job.currency is not None:
            return Money(job.amount, job.currency)
        if job.wallet_currency is None:
            return None
        fare = job.fare_amount
        for _ in range(3):  # the fare it finds: a repair or late tap-out may lower it meanwhile
            try:
                charge = await self.converter.charge(
                    Money(fare, job.fare_currency), job.wallet_currency, self.clock.now()
                )
            except (DomainError, LookupError):
                return None
            async with self.db.acquire() as conn:
                now_fare = await q.set_charge(
                    conn,
                    job.journey_id,
                    fare=fare,
                    amount=charge.charge.amount,
                    currency=charge.charge.currency,
                    rate=charge.rate,
                    source=charge.source,
                )
            if now_fare is None:
                return charge.charge
            if now_fare == fare:  # not charging any more (another worker took it over): leave it
                return None
            fare = now_fare
        return None  # repriced under it each time: the next round

    async def _charge(self, job: q.ChargeJob) -> tuple[str, str | None]:
        """("charged" | "failed" | "retry", the provider's reference)."""
        provider = self.providers(job.provider) if job.provider else None
        if provider is None:
            log.error(
                "journey %s: payment provider %r is not enabled; will retry", job.journey_id, job.provider
            )
            return "retry", None
        amount = await self._amount(job)
        if amount is None:
            log.warning("journey %s: no exchange rate yet; will retry", job.journey_id)
            return "retry", None
        try:
            outcome = await provider.charge(
                ChargeRequest(
                    reference=job.journey_id,
                    amount=amount,
                    account=job.user_id,
                    description=f"ride with {job.operator}",
                )
            )
        except DomainError as exc:
            log.warning("journey %s: charge not answered (%s); will retry", job.journey_id, exc.code)
            return "retry", None
        return ("charged" if outcome.succeeded else "failed"), outcome.provider_reference
