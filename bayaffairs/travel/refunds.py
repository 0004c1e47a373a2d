"""Refunds owed, through an outbox: written down in the transaction that decides them, worked
off afterwards, retried until they go through or are handed to a person.

Whoever decides a refund (a cancellation, a refused confirmation, a charge found after its
booking was given up) calls `owe()` inside its own transaction, so "the booking is cancelled"
and "its money is owed back" commit together or not at all. Working one off (`work()`, called
at once by the request that owed it and by the sweeper for the rest) leases it, cancels at the
carrier first when the refund says so (a carrier that cannot be reached keeps the money where
it is: it is retried), then asks the provider under the refund's id as its idempotency
reference, so a retry never pays twice. Each provider attempt is an append-only
`travel_payments` row. A failure waits `refund_retry_seconds`, doubling up to an hour; after
`refund_retry_attempts` failures, or a definite refusal, the refund is `stuck` and listed for
admins (GET /v1/admin/refunds?status=stuck).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bayaffairs.adapters.protocols import PaymentOutcome, PaymentProvider, RefundRequest
from bayaffairs.backoff import doubling
from bayaffairs.clock import Clock
from bayaffairs.config.settings import TravelSettings
from bayaffairs.db.queries import travel_bookings as q
from bayaffairs.db.queries import travel_refunds as rq
from bayaffairs.ids import new_id
from bayaffairs.money import Money
from bayaffairs.pages import Page
from bayaffairs.storage import Connection, Database
from bayaffairs.travel.carriers import Carriers
from bayaffairs.travel.errors import CarrierDeclined, CarrierFailed, CarrierTimeout

log = logging.getLogger("bayaffairs.travel")

MAX_BACKOFF = timedelta(hours=1)
LEASE = timedelta(minutes=2)  # longer than a carrier call and a provider call together
# The carrier's no that means there is nothing (left) to cancel there: done, not stuck.
NOTHING_TO_CANCEL = frozenset(
    {"not_confirmed", "unknown_booking", "unknown_hold", "unknown_passenger", "already_cancelled"}
)
STATUSES = ("pending", "done", "stuck", "superseded")


@dataclass(frozen=True)
class Refund:
    """A refund as admins see it."""

    id: str
    booking_id: str
    reason: str
    amount: Money
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime
    done_at: datetime | None


def _refund(row: rq.RefundRow) -> Refund:
    return Refund(
        row.id,
        row.booking_id,
        row.reason,
        Money(row.amount, row.currency),
        row.status,
        row.attempts,
        row.last_error,
        row.created_at,
        row.next_attempt_at,
        row.done_at,
    )


async def owe(
    conn: Connection,
    booking_id: str,
    charge: q.PaymentRow,
    amount: int,
    reason: str,
    at: datetime,
    *,
    carrier_cancel: bool,
    passengers: Sequence[int] | None = None,
    not_before: datetime | None = None,
) -> str:
    """Write down a refund of `amount` (of `charge`'s currency, never more than is left of the
    charge) in the caller's transaction; its id. Refunds of one charge are written one at a
    time (the charge's row is locked). Nothing left to pay back and nothing to cancel at the
    carrier writes nothing (an empty id)."""
    await rq.lock_charge(conn, charge.id)
    amount = min(amount, charge.amount - await rq.owed_for_charge(conn, charge.id))
    if amount <= 0 and not carrier_cancel:
        return ""
    refund_id = new_id("rfd")
    fare_amount = charge.fare_amount * amount // max(charge.amount, 1)
    await rq.insert(
        conn,
        rq.RefundRow(
            id=refund_id,
            booking_id=booking_id,
            charge_id=charge.id,
            reason=reason,
            amount=max(amount, 0),
            currency=charge.currency,
            fare_amount=fare_amount,
            fare_currency=charge.fare_currency,
            passengers=list(passengers) if passengers is not None else None,
            carrier_cancel=carrier_cancel,
            carrier_done_at=None,
            status="pending",
            attempts=0,
            next_attempt_at=not_before or at,
            leased_until=None,
            last_error=None,
            created_at=at,
            done_at=None,
        ),
    )
    return refund_id


def _outcome(outcome: PaymentOutcome | None) -> str:
    """A provider not reached may still have refunded: unknown until a retry answers."""
    if outcome is None:
        return "unknown"
    return "succeeded" if outcome.succeeded else "failed"


class RefundOutbox:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        settings: TravelSettings,
        carriers: Carriers,
        providers: Callable[[str], PaymentProvider | None],
    ) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings
        self.carriers = carriers
        self.providers = providers

    async def refund(
        self, booking_id: str, charge: q.PaymentRow, reason: str, *, carrier_cancel: bool = False
    ) -> None:
        """Owe back all that is left of a charge, in a transaction of its own, and work it off
        now (what fails is retried by the sweeper)."""
        async with self.db.transaction() as conn:
            refund_id = await owe(
                conn,
                booking_id,
                charge,
                charge.amount,
                reason,
                self.clock.now(),
                carrier_cancel=carrier_cancel,
            )
        await self.work_all([refund_id])

    async def bring_forward(self, booking_id: str, reason: str) -> None:
        """Work off a booking's refund of `reason` now, if it was waiting for a later time (the
        rider chose the money over a move)."""
        async with self.db.acquire() as conn:
            refund_ids = await rq.bring_forward(conn, booking_id, reason, self.clock.now())
        await self.work_all(refund_ids)

    async def work_all(self, refund_ids: Sequence[str]) -> None:
        """Work off refunds just owed, now; what fails stays for the sweeper."""
        for refund_id in refund_ids:
            if refund_id:
                try:
                    await self.work(refund_id)
                except Exception:
                    log.exception("refund %s: left for the sweeper", refund_id)

    async def sweep(self, batch: int = 100) -> int:
        """Work off every refund that is due; how many were paid back."""
        async with self.db.acquire() as conn:
            due = await rq.due(conn, self.clock.now(), batch)
        done = 0
        for refund_id in due:
            try:
                done += await self.work(refund_id)
            except Exception:
                log.exception("refund %s: left for the next sweep", refund_id)
        return done

    async def work(self, refund_id: str) -> bool:
        """One attempt at one refund, if it is due and nobody else works on it; True once paid
        back (or nothing was left to pay)."""
        now = self.clock.now()
        async with self.db.acquire() as conn:
            refund = await rq.lease(conn, refund_id, now, now + LEASE)
            if refund is None:
                return False
            booking = await q.get(conn, refund.booking_id)
            charge = await q.payment(conn, refund.charge_id)
        assert booking is not None and charge is not None
        if refund.carrier_cancel and refund.carrier_done_at is None:
            error = await self._cancel_at_carrier(booking, refund)
            if error is not None:
                return await self._failed(refund, error, stuck=error.startswith("refused:"))
        if refund.amount == 0:
            return await self._finish(refund, "done", None)
        provider = self.providers(charge.provider)
        if provider is None:
            return await self._failed(refund, f"provider {charge.provider} is not configured", stuck=True)
        money = Money(refund.amount, refund.currency)
        try:
            outcome = await provider.refund(
                RefundRequest(refund.id, charge.id, charge.provider_reference or "", money)
            )
        except Exception as exc:  # noqa: BLE001 - any failure is an attempt that did not get through
            log.warning("refund %s: attempt %d failed: %s", refund.id, refund.attempts + 1, exc)
            await self._record(refund, charge, None)
            return await self._failed(refund, "provider_unreachable")
        await self._record(refund, charge, outcome)
        if outcome.succeeded:
            return await self._finish(refund, "done", None)
        return await self._failed(refund, f"refused: {outcome.failure_code}", stuck=True)

    async def _cancel_at_carrier(self, booking: q.BookingRow, refund: rq.RefundRow) -> str | None:
        """Cancel the refund's seats at the carrier; None when done (or nothing was left to
        cancel there), else why not (`refused: ...` for a definite no)."""
        carrier = self.carriers.get(booking.carrier)
        if carrier is not None:
            try:
                if refund.passengers is None:
                    await self.carriers.call(carrier.adapter.cancel(booking.id))
                else:
                    ids = [f"{booking.id}.{p}" for p in refund.passengers]
                    await self.carriers.call(carrier.adapter.cancel_passengers(booking.id, ids))
            except (CarrierFailed, CarrierTimeout) as exc:
                return exc.code
            except CarrierDeclined as exc:
                reason = str(exc.details.get("reason"))
                if reason not in NOTHING_TO_CANCEL:
                    return f"refused: carrier {reason}"
        async with self.db.acquire() as conn:
            await rq.carrier_done(conn, refund.id, self.clock.now())
        return None

    async def _record(
        self, refund: rq.RefundRow, charge: q.PaymentRow, outcome: PaymentOutcome | None
    ) -> None:
        """One provider attempt as its append-only payment row (no outcome: not reached)."""
        async with self.db.acquire() as conn:
            await q.insert_payment(
                conn,
                q.PaymentRow(
                    id=new_id("pay"),
                    booking_id=refund.booking_id,
                    kind="refund",
                    succeeded=bool(outcome and outcome.succeeded),
                    amount=refund.amount,
                    currency=refund.currency,
                    fare_amount=refund.fare_amount,
                    fare_currency=refund.fare_currency,
                    fx_rate=charge.fx_rate,
                    provider=charge.provider,
                    provider_reference=outcome.provider_reference if outcome else None,
                    failure_code=outcome.failure_code if outcome else "provider_unreachable",
                    charge_id=charge.id,
                    created_at=self.clock.now(),
                    reference=refund.id,
                    outcome=_outcome(outcome),
                ),
            )

    async def _finish(self, refund: rq.RefundRow, status: str, error: str | None) -> bool:
        async with self.db.acquire() as conn:
            await rq.finish(conn, refund.id, status, self.clock.now(), error)
        return status == "done"

    async def _failed(self, refund: rq.RefundRow, error: str, *, stuck: bool = False) -> bool:
        if stuck:
            log.error("refund %s of booking %s is stuck: %s", refund.id, refund.booking_id, error)
            await self._finish(refund, "stuck", error)
            return False
        attempts = refund.attempts + 1
        wait = doubling(timedelta(seconds=self.settings.refund_retry_seconds), attempts, MAX_BACKOFF)
        async with self.db.acquire() as conn:
            status = await rq.failed_attempt(
                conn,
                refund.id,
                error,
                self.clock.now() + wait,
                self.settings.refund_retry_attempts,
            )
        if status == "stuck":
            log.error(
                "refund %s of booking %s is stuck after %d attempts", refund.id, refund.booking_id, attempts
            )
        return False

    async def listing(self, status: str, *, cursor: str | None, limit: int) -> Page[Refund]:
        async with self.db.acquire() as conn:
            rows = await rq.listing(conn, status, after=cursor, limit=limit + 1)
        return Page.from_rows([_refund(r) for r in rows], limit, key=lambda r: r.id)
