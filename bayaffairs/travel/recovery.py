"""The sweeper's repairs: what a failure or a dead process left half done is finished or undone.

- A payment in `paying` nobody drives (its process died, or the carrier's confirmation got no
  answer and the rider has not retried) is leased once it is `payment_recovery_seconds` old (at
  once when a payment handed its lease back) and resumed (`PaymentResumption.resume`, `resuming.py`): a charge
  asked of the provider but never recorded is re-driven with the same reference and amount;
  with money taken the carrier is asked to confirm again under our booking id (idempotent
  there) and tickets issued, or the charge is refunded when the carrier says no; with no money
  taken the claim is undone. A partner still failing leaves it for the next lease, until
  `payment_give_up_seconds` after the charge: then the charge is refunded, the booking released
  (`carrier_unconfirmed`) and the carrier told to let go of the seats (below). A charge whose
  outcome stays unknown that long releases the booking (`payment_unknown`) and is settled below.
- A charge whose outcome is unknown and whose booking no longer waits for it (given up,
  `payment_unknown`) is settled by looking its reference up at the provider; money that did
  go through is refunded.
- Refunds owed (the outbox, `refunds.py`) are worked off: the carrier's cancellation first when
  needed, then the provider, retried after `refund_retry_seconds` doubling per attempt (at
  most an hour), `refund_retry_attempts` times in all; then `stuck`, for an admin.
- A booking given up on at the carrier (`carrier_hold_failed`: it may have held the seats and
  answered too late; `carrier_unconfirmed`: it may have sold them) is let go of at the carrier:
  released, or cancelled if it says the seats were sold. The reference is claimed first
  (`travel_carrier_releases`, under the booking's row lock), so a retried hold never reuses a
  reference being released.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bayaffairs.db.queries import travel_bookings as q
from bayaffairs.db.queries import travel_recovery as rq
from bayaffairs.db.queries import travel_refunds as fq
from bayaffairs.travel.errors import CarrierDeclined, CarrierFailed, CarrierTimeout
from bayaffairs.travel.ledger import open_charge
from bayaffairs.travel.payments import TravelPayments

log = logging.getLogger("bayaffairs.travel")


class TravelRecovery:
    def __init__(self, payments: TravelPayments) -> None:
        self.payments = payments
        self.db = payments.db
        self.clock = payments.clock
        self.settings = payments.bookings.settings

    async def sweep(self) -> int:
        """One pass of every repair; what each did, counted."""
        return (
            await self.recover_payments()
            + await self.reconcile_charges()
            + await self.retry_refunds()
            + await self.release_given_up_holds()
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
            done += outcome not in ("waiting", "charge_unknown")
        return done

    async def recover_payment(self, row: q.BookingRow) -> str:
        """Finish or undo one leased `paying` booking: `confirmed`, `refunded`, `given_back`,
        `gave_up` (no answer from the carrier, or none from the provider about the charge, for
        `payment_give_up_seconds`), or `waiting` / `charge_unknown` (the next lease tries
        again)."""
        p = self.payments
        outcome, _ = await p.resumption.resume(row)
        if outcome not in ("waiting", "charge_unknown"):
            return outcome
        give_up = timedelta(seconds=self.settings.payment_give_up_seconds)
        now = self.clock.now()
        if outcome == "charge_unknown":
            async with self.db.acquire() as conn:
                unknown = await rq.unsettled_charges(conn, row.id)
            if not unknown or unknown[0].created_at + give_up > now:
                return outcome
            # The seats go back (here and at the carrier, which never confirmed: we never got
            # that far); the charge stays unknown and `reconcile_charges` settles it.
            log.warning("booking %s: the provider never said what became of the charge; releasing", row.id)
            await p.bookings.release(row.id, "payment_unknown", from_status=("paying",))
            return "gave_up"
        async with self.db.acquire() as conn:
            charge = open_charge(await q.payments(conn, row.id), await fq.of_bookings(conn, [row.id]))
        if charge is None or charge.created_at + give_up > now:
            return "waiting"
        log.warning("booking %s: the carrier never confirmed; refunding and letting go", row.id)
        await p.refunds.refund(row.id, charge, "unconfirmed")
        if await p.bookings.release(
            row.id, "carrier_unconfirmed", tell_carrier=False, from_status=("paying",)
        ):
            await self._let_go(row, self.clock.now())
        return "gave_up"

    # -- charges whose outcome is unknown ---------------------------------------------------

    async def reconcile_charges(self, batch: int = 100) -> int:
        """Settle unknown charges whose booking no longer waits for them, by looking their
        reference up at the provider (never charging); one that did go through is refunded,
        unless it is the very charge its confirmed booking stands on."""
        p = self.payments
        settle_after = timedelta(seconds=self.settings.payment_recovery_seconds)
        async with self.db.acquire() as conn:
            intents = await rq.unsettled_elsewhere(conn, self.clock.now(), batch)
        done = 0
        for intent in intents:
            row = await p.charges.settle_by_lookup(intent, settle_after)
            if row is None:
                continue
            done += 1
            if not row.succeeded:
                continue
            async with self.db.acquire() as conn:
                booking = await q.get(conn, intent.booking_id)
                standing = open_charge(
                    await q.payments(conn, intent.booking_id), await fq.of_bookings(conn, [intent.booking_id])
                )
            if booking is not None and booking.status == "confirmed" and standing and standing.id == row.id:
                continue
            log.warning("booking %s: charge %s went through after all; refunding", intent.booking_id, row.id)
            await p.refunds.refund(intent.booking_id, row, "reconciled")
        return done

    # -- refunds owed ------------------------------------------------------------------------

    async def retry_refunds(self, batch: int = 100) -> int:
        """Work off the refund outbox: what is due is attempted again; how many were paid."""
        return await self.payments.refunds.sweep(batch)

    # -- holds given up on -------------------------------------------------------------------

    async def release_given_up_holds(self, batch: int = 100) -> int:
        """Let go at the carrier of what we gave up on (idempotent per our booking id; a hold it
        does not know is fine). Only once the request we gave up on can no longer be in
        flight: `carrier_timeout_seconds` after we gave up."""
        now = self.clock.now()
        async with self.db.acquire() as conn:
            rows = await rq.holds_given_up(conn, now - timedelta(days=1), batch)
        settled = timedelta(seconds=self.payments.carriers.timeout_seconds)
        done = 0
        for row in rows:
            if row.updated_at + settled > now:
                continue
            done += await self._let_go(row, now)
        return done

    async def _let_go(self, row: q.BookingRow, now: datetime) -> bool:
        """Release the booking's hold at the carrier, or cancel it there if the carrier says it
        was confirmed; recorded in `travel_carrier_releases` (claimed before asking). False when
        the carrier could not be reached (the next sweep asks again) or a retry held it again."""
        p = self.payments
        async with self.db.transaction() as conn:
            if not await rq.claim_carrier_release(conn, row.id):
                return False
        carrier = p.carriers.get(row.carrier)
        if carrier is not None:
            try:
                try:
                    await p.carriers.call(carrier.adapter.release(row.id))
                except CarrierDeclined as exc:
                    if exc.details.get("reason") != "already_confirmed":
                        raise
                    await p.carriers.call(carrier.adapter.cancel(row.id))
            except (CarrierFailed, CarrierTimeout):
                return False
            except CarrierDeclined as exc:
                log.warning("booking %s: carrier %s refused to let go: %s", row.id, row.carrier, exc.code)
        async with self.db.acquire() as conn:
            await rq.mark_released_at_carrier(conn, row.id, now)
        return True
