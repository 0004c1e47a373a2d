"""Deleting a rider's account: asked, confirmed, access closed at once, then erased.

1. `prepare` (a fresh sign-in): what would happen, and a confirmation code for this session,
   good for `deletion_confirm_minutes`. What the rider still owes blocks it: unpaid debts (409
   `debts_unpaid`, with each debt and where to pay it), fares still being charged, a journey
   still open, a booking being paid for.
2. `delete` (a fresh sign-in, the code): in one transaction, access ends: sign-in identities
   unlinked (signing in again makes a new rider), every session revoked, ride accounts retired
   and device credentials revoked with deny-list entries published for gates, documents (the
   encrypted number and its fingerprint) and exports destroyed. Then future bookings and
   appointments are cancelled through the travel and appointments services, with refunds by
   the carriers' rules.
3. The erasure: payments, journeys (settlement), transfer records and the consents they rest on
   stay, under a pseudonym and without names; everything else goes with the users row.

Whatever stops the last two steps (a booking its service will not cancel, the database failing,
the worker dying) leaves the deletion `deleting`, with access closed and the tickets of an
uncancelled booking void: a job retries it every `deletion_retry_seconds` (the start sets the
first retry that far ahead, so the job never races the request finishing it). After
`_GIVE_UP_AFTER` tries the erasure goes ahead, and the outcome names what stayed uncancelled.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bayaffairs.appointments.booking import AppointmentService
from bayaffairs.clock import Clock
from bayaffairs.config.settings import PrivacySettings
from bayaffairs.credentials import CredentialService, Principal
from bayaffairs.db.queries import deny_list as deny_q
from bayaffairs.db.queries import erasure as q
from bayaffairs.db.queries import obligations as obligations_q
from bayaffairs.db.queries import travel_bookings as bookings_q
from bayaffairs.errors import Conflict, DomainError, NotFound
from bayaffairs.ids import new_id
from bayaffairs.money import Money
from bayaffairs.privacy.reauth import require_fresh
from bayaffairs.storage import Connection, Database
from bayaffairs.travel.bookings import TravelBookings
from bayaffairs.travel.errors import NotCancellable, PaymentInProgress
from bayaffairs.travel.payments import TravelPayments

log = logging.getLogger("bayaffairs.privacy")
DENY_REASON = "account_closed"
_GIVE_UP_AFTER = 48  # tries (four hours at the default 5 minutes)


class DebtsUnpaid(Conflict):
    """409: pay first; `details.debts` lists each one and where to pay it."""

    code = "debts_unpaid"


@dataclass(frozen=True)
class Summary:
    """What deleting would do now."""

    bookings_to_cancel: list[q.OpenBooking]
    appointments_to_cancel: list[q.OpenAppointment]
    kept: dict[str, int]


@dataclass(frozen=True)
class Prepared:
    id: str
    confirmation: str
    expires_at: datetime
    summary: Summary


@dataclass(frozen=True)
class Cancelled:
    booking_id: str
    refund: Money | None


@dataclass(frozen=True)
class Deleted:
    status: str  # deleted, or deleting while a partner is retried
    reference: str  # the pseudonym the kept records carry: quote it about a refund
    bookings_cancelled: list[Cancelled] = field(default_factory=list)
    appointments_cancelled: list[str] = field(default_factory=list)
    documents_destroyed: int = 0
    kept: dict[str, int] = field(default_factory=dict)
    retry_at: datetime | None = None


def _hash(code: str) -> bytes:
    return hashlib.sha256(code.encode()).digest()


class AccountDeletion:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        settings: PrivacySettings,
        credentials: CredentialService,
        bookings: TravelBookings,
        payments: TravelPayments,
        appointments: AppointmentService,
    ) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings
        self.credentials = credentials
        self.bookings = bookings
        self.payments = payments
        self.appointments = appointments

    # -- asking ------------------------------------------------------------------------------

    async def prepare(self, principal: Principal) -> Prepared:
        now = self.clock.now()
        require_fresh(principal, self.settings, now)
        user_id = principal.scope
        code = secrets.token_urlsafe(16)
        request_id = new_id("del")
        expires_at = now + timedelta(minutes=self.settings.deletion_confirm_minutes)
        async with self.db.transaction() as conn:
            if not await q.lock_user(conn, user_id):
                raise NotFound("user_not_found")
            await _nothing_owed(conn, user_id)
            summary = Summary(
                await q.open_bookings(conn, user_id, now),
                await q.open_appointments(conn, user_id),
                await q.kept_counts(conn, user_id),
            )
            await q.insert_request(
                conn,
                id=request_id,
                user_id=user_id,
                credential_id=principal.credential_id,
                code_hash=_hash(code),
                at=now,
                expires_at=expires_at,
            )
        return Prepared(request_id, code, expires_at, summary)

    async def delete(self, principal: Principal, confirmation: str) -> Deleted:
        now = self.clock.now()
        require_fresh(principal, self.settings, now)
        user_id = principal.scope
        async with self.db.transaction() as conn:
            if not await q.lock_user(conn, user_id):
                raise NotFound("user_not_found")
            request = await q.confirmable(conn, user_id, principal.credential_id, _hash(confirmation), now)
            if request is None:
                raise Conflict("deletion_not_confirmed")
            await _nothing_owed(conn, user_id)
            retry_at = now + timedelta(seconds=self.settings.deletion_retry_seconds)
            deletion = await q.start(conn, request.id, new_id("psn"), now, retry_at)
            closed = await q.close_access(conn, user_id, now)
            for token in closed.accounts:
                await deny_q.append(conn, "account", token.hex(), "add", DENY_REASON, now)
            for credential in closed.device_credentials:
                await deny_q.append(conn, "credential", credential.hex(), "add", DENY_REASON, now)
            destroyed = await q.destroy_private(conn, user_id, f"rider:{user_id}")
        self.credentials.forget(closed.sessions)
        return await self._carry_on(deletion, user_id, documents_destroyed=destroyed)

    # -- finishing ---------------------------------------------------------------------------

    async def resume_due(self) -> int:
        """Retry deletions waiting for a partner (a periodic job; one worker takes each)."""
        done = 0
        while True:
            now = self.clock.now()
            async with self.db.transaction() as conn:
                row = await q.claim_due(
                    conn, now, now + timedelta(seconds=self.settings.deletion_retry_seconds)
                )
            if row is None:
                return done
            if row.user_id is None:
                continue
            if (await self._carry_on(row, row.user_id)).status == "deleted":
                done += 1

    async def _carry_on(self, deletion: q.DeletionRow, user_id: str, documents_destroyed: int = 0) -> Deleted:
        """Cancel what is still open, then erase; anything failing is left for the next try
        (access is closed already, and stays closed)."""
        assert deletion.pseudonym is not None
        cancelled, appointments, failures = await self._cancel_open(user_id)
        if failures and deletion.attempts + 1 < _GIVE_UP_AFTER:
            return await self._later(
                deletion, "; ".join(failures), cancelled, appointments, documents_destroyed
            )
        now = self.clock.now()
        try:
            async with self.db.transaction() as conn:
                kept = await q.kept_counts(conn, user_id)
                outcome: dict[str, Any] = {
                    "bookings_cancelled": [c.booking_id for c in cancelled],
                    "appointments_cancelled": appointments,
                    "not_cancelled": failures,
                    "kept": kept,
                }
                await q.erase(conn, user_id, deletion.pseudonym, now, self.appointments.changes.next)
                await q.finish(conn, deletion.id, outcome, now)
        except Exception as exc:
            log.exception("deletion %s: erasure failed; retried later", deletion.id)
            return await self._later(
                deletion, type(exc).__name__, cancelled, appointments, documents_destroyed
            )
        if failures:
            log.error("deletion %s: erased with bookings not cancelled: %s", deletion.id, failures)
        return Deleted("deleted", deletion.pseudonym, cancelled, appointments, documents_destroyed, kept)

    async def _later(
        self,
        deletion: q.DeletionRow,
        error: str,
        cancelled: list[Cancelled],
        appointments: list[str],
        documents_destroyed: int,
    ) -> Deleted:
        assert deletion.pseudonym is not None
        retry_at = self.clock.now() + timedelta(seconds=self.settings.deletion_retry_seconds)
        async with self.db.acquire() as conn:
            await q.retry_later(conn, deletion.id, error, retry_at)
        return Deleted(
            "deleting", deletion.pseudonym, cancelled, appointments, documents_destroyed, retry_at=retry_at
        )

    async def _cancel_open(self, user_id: str) -> tuple[list[Cancelled], list[str], list[str]]:
        """Future bookings and appointments cancelled by their own services' rules; a booking a
        partner could not cancel has its tickets voided at once and is named in the failures."""
        now = self.clock.now()
        async with self.db.acquire() as conn:
            bookings = await q.open_bookings(conn, user_id, now)
            appointments = await q.open_appointments(conn, user_id)
        cancelled: list[Cancelled] = []
        failures: list[str] = []
        for booking in bookings:
            try:
                if booking.status == "held":
                    await self.bookings.release(booking.id, "account_deleted")
                    cancelled.append(Cancelled(booking.id, None))
                    continue
                done = await self.payments.cancel(user_id, booking.id)
                cancelled.append(Cancelled(booking.id, done.refund))
            except NotCancellable:
                continue  # departed or boarded meanwhile: nothing left to cancel
            except DomainError as exc:  # the carrier could not be reached, or refused
                failures.append(f"{booking.id}: {exc.code}")
                async with self.db.transaction() as conn:
                    await bookings_q.cancel_tickets(conn, booking.id)
        closed: list[str] = []
        for appointment in appointments:
            try:
                await self.appointments.cancel(user_id, appointment.id, closing_account=True)
            except DomainError:
                continue  # checked in meanwhile: the person is at the counter
            closed.append(appointment.id)
        return cancelled, closed, failures


async def _nothing_owed(conn: Connection, user_id: str) -> None:
    """409 with what to do first while the rider owes money or has money or travel under way."""
    debts = await obligations_q.debts(conn, user_id)
    if debts:
        raise DebtsUnpaid(
            details={
                "debts": [
                    {
                        "id": d.id,
                        "journey_id": d.journey_id,
                        "operator": d.operator,
                        "amount": {"amount": d.amount, "currency": d.currency},
                        "incurred_at": d.incurred_at.isoformat(),
                        "pay": f"POST /v1/me/debts/{d.id}/payment",
                    }
                    for d in debts
                ],
                "list": "GET /v1/me/debts",
            },
            count=len(debts),
        )
    moving = await obligations_q.under_way(conn, user_id)
    if moving.open_journeys:
        raise Conflict("journey_open")
    if moving.charges_pending:
        raise Conflict("charges_pending", details={"charges": moving.charges_pending})
    if moving.payments_in_progress:
        raise PaymentInProgress(details={"retry_after": 60})
