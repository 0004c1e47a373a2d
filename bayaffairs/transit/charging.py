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
claim left by a dead worker is retried after `stale_seconds`. A claim is a row of charge_claims
(0056), not a write of the journey: a charge writes its journey once, with its outcome (the
journeys row has many indexes, and this job shares its worker with the gates).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from bayaffairs.adapters.protocols import ChargeRequest, PaymentProvider, RefundRequest
from bayaffairs.clock import Clock
from bayaffairs.db.queries import journeys as q
from bayaffairs.errors import DomainError
from bayaffairs.fx import Converter
from bayaffairs.money import Money
from bayaffairs.storage import Database
from bayaffairs.transit.debts import Debts, Declined
from bayaffairs.transit.products import FareProducts

log = logging.getLogger("bayaffairs.charging")

_Job = TypeVar("_Job")
_Result = TypeVar("_Result")


@dataclass(frozen=True)
class _Outcome:
    job: q.ChargeJob
    kind: str  # charged | failed | retry
    reference: str | None = None


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
        batch: int = 500,
        concurrency: int = 32,
        rounds: int = 20,
        share: float = 0.25,
    ) -> None:
        self.db = db
        self.clock = clock
        self.providers = providers
        self.converter = converter
        self.debts = debts
        self.products = products
        self.hold_seconds = hold_seconds
        self.stale_seconds = stale_seconds
        self.batch = batch
        self.concurrency = concurrency
        self.rounds = rounds
        self.share = share
        # How a round is timed and a pause is taken: replaced in tests, which must not sleep.
        self.timer: Callable[[], float] = time.monotonic
        self.pause: Callable[[float], Awaitable[None]] = asyncio.sleep

    async def charge_pending(self) -> int:
        """Charge what is due, in rounds of `batch` while a backlog lasts, `rounds` at most per
        call, pausing between rounds so that charging takes at most `share` of the worker's time
        (ride now, pay later: a gate's answer comes first); how many journeys were tried.
        Charges a provider did not answer are put back to pending as soon as their round is
        recorded (a claim is held no longer than its round, so a long run never sits on claims
        another worker could take as stale), and no later round of the same call claims them."""
        unanswered: list[str] = []
        done = 0
        for _ in range(self.rounds):
            started = self.timer()
            jobs = await self._claim(self.batch, unanswered)
            done += len(jobs)
            retry = await self._record(await self._call(jobs))
            if retry:
                async with self.db.acquire() as conn:
                    await q.release_charges(conn, [(job.journey_id, job.claimed_at) for job in retry])
                unanswered += [job.journey_id for job in retry]
            if len(jobs) < self.batch:
                break
            if self.share < 1:
                # Its worker also answers gates: a backlog is charged at `share` of its time.
                await self.pause((self.timer() - started) * (1 - self.share) / self.share)
        return done

    async def _claim(self, limit: int, skip: list[str]) -> list[q.ChargeJob]:
        """Up to `limit` due charges but those in `skip`, claimed and committed before any
        provider is called."""
        async with self.db.transaction() as conn:
            jobs = await q.claim_charges(conn, limit, self.stale_seconds, self.hold_seconds, skip)
            # Fare products are priced in the claim: a journey repriced (late tap-out, repair)
            # once it is `charging` then finds the charge it will be charged and refunds from that
            # (priced after the claim, the repricing refunded the difference from the maximum and
            # the products then discounted the new fare as well). Riders in order: each holds
            # its product locks to the commit, and two workers must not wait on each other.
            priced = {}
            for job in sorted(jobs, key=lambda j: (j.user_id, j.journey_id)):
                priced[job.journey_id] = await self.products.price_in(conn, job)
            return [priced[job.journey_id] for job in jobs]

    async def _each(
        self,
        jobs: Sequence[_Job],
        call: Callable[[_Job], Awaitable[_Result]],
        surprised: Callable[[_Job], _Result],
    ) -> list[_Result]:
        """`call` for each job, `concurrency` in flight at most, outcomes in the jobs' order. A
        call that raises gets `surprised(job)` (called while the error is handled, to log it):
        one job's surprise must not lose the others' outcomes.

        Each call lets the event loop turn before its turn passes on, so a provider that answers
        without waiting on anything (the demo wallet) runs at most `concurrency` calls in one
        stretch: a round of 500 such calls in one stretch held every gate's answer in the job's
        worker for 11-22 ms under the scan bench (bench/README.md)."""
        turns = asyncio.Semaphore(self.concurrency)

        async def one(job: _Job) -> _Result:
            async with turns:
                try:
                    result = await call(job)
                except Exception:  # noqa: BLE001 - surprised() logs it, with the traceback
                    result = surprised(job)
                await asyncio.sleep(0)
                return result

        return list(await asyncio.gather(*(one(job) for job in jobs)))

    async def _call(self, jobs: list[q.ChargeJob]) -> list[_Outcome]:
        """Each claimed charge asked of its provider, `concurrency` calls in flight at most."""

        async def charge(job: q.ChargeJob) -> _Outcome:
            if job.erased:
                # A tap scanned before the rider's account was erased, uploaded after it: the
                # journey is the pseudonym's, and no wallet is linked to a pseudonym (linking one
                # back would undo the erasure). Its fare is owed all the same: a debt, not retried.
                log.warning("journey %s: the rider was erased; its fare is a debt", job.journey_id)
                return _Outcome(job, "failed")
            kind, reference = await self._charge(job)
            return _Outcome(job, kind, reference)

        def surprised(job: q.ChargeJob) -> _Outcome:
            log.exception("journey %s: charging failed; will retry", job.journey_id)
            return _Outcome(job, "retry")

        return await self._each(jobs, charge, surprised)

    async def _record(self, outcomes: list[_Outcome]) -> list[q.ChargeJob]:
        """A round's outcomes, set-based: one statement for the charged, one transaction for the
        declined (their `failed`, what they owe net of refunds, their debts and deny-list
        entries, a statement each); the jobs not answered, left claimed for the caller."""
        charged = [(o.job.journey_id, o.reference) for o in outcomes if o.kind == "charged"]
        failed = [o for o in outcomes if o.kind == "failed"]
        if charged:
            async with self.db.acquire() as conn:
                await q.finish_charges(conn, charged)
        if failed:
            async with self.db.transaction() as conn:
                moved = set(await q.fail_charges(conn, [(o.job.journey_id, o.reference) for o in failed]))
                await q.net_of_refunds(conn, sorted(moved))
                await self.debts.declined(
                    conn,
                    [
                        Declined(o.job.journey_id, o.job.user_id, retry=not o.job.erased)
                        for o in failed
                        if o.job.journey_id in moved
                    ],
                )
        return [o.job for o in outcomes if o.kind == "retry"]

    async def refund_due(self, limit: int | None = None) -> int:
        """Give back the refund lines of journeys whose charge went through (a late tap-out or a
        repair priced them lower): once per line, the line's id the provider's idempotency key.
        A batch (`limit`, else `batch`) is claimed and committed before any provider is called,
        the providers asked `concurrency` at a time, and the outcomes written in one statement
        (those not answered pending again, for the next run). How many were tried."""
        async with self.db.transaction() as conn:
            jobs = await q.claim_refunds(conn, limit or self.batch, self.stale_seconds)
        if not jobs:
            return 0

        async def refund(job: q.RefundJob) -> tuple[str, str, str | None, int]:
            status, reference = await self._refund(job)
            return job.id, status, reference, job.attempts

        def surprised(job: q.RefundJob) -> tuple[str, str, str | None, int]:
            log.exception("refund %s failed; will retry", job.id)
            return job.id, "pending", None, job.attempts

        outcomes = await self._each(jobs, refund, surprised)
        async with self.db.acquire() as conn:
            await q.finish_refunds(conn, outcomes, self.clock.now())
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
