"""Finishing a payment: issuing the tickets once the carrier confirmed (or refunding a sale whose
booking is gone), and resuming an interrupted payment whose lease the caller holds (the rider
retrying, or the sweeper in `recovery.py`).

Resuming first settles every charge whose outcome is unknown, re-driving it under its reference
with its original amount; then, with money standing, the carrier is asked again under the same
reference: a confirmation issues the tickets, a refusal refunds the charge and releases the
seats; with no money standing the claim is given back. A partner that still fails or does not
answer leaves the booking as it is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bayaffairs import transfers
from bayaffairs.adapters.protocols import CarrierConfirmation, PaymentProvider
from bayaffairs.db.queries import travel_bookings as q
from bayaffairs.db.queries import travel_refunds as fq
from bayaffairs.errors import DomainError
from bayaffairs.storage import Database
from bayaffairs.travel.bookings import TravelBookings
from bayaffairs.travel.carriers import Carriers
from bayaffairs.travel.charges import Charges
from bayaffairs.travel.claims import PaymentClaims
from bayaffairs.travel.confirming import CarrierConfirming
from bayaffairs.travel.errors import (
    CarrierDeclined,
    CarrierFailed,
    CarrierTimeout,
    DepartureCancelled,
    HoldExpired,
)
from bayaffairs.travel.ledger import open_charge
from bayaffairs.travel.refunds import RefundOutbox
from bayaffairs.travel.tickets import SignedTicket

log = logging.getLogger("bayaffairs.travel")


class PaymentResumption:
    def __init__(
        self,
        db: Database,
        bookings: TravelBookings,
        carriers: Carriers,
        providers: Callable[[str], PaymentProvider | None],
        claims: PaymentClaims,
        charges: Charges,
        confirming: CarrierConfirming,
        refunds: RefundOutbox,
    ) -> None:
        self.db = db
        self.bookings = bookings
        self.carriers = carriers
        self.providers = providers
        self.claims = claims
        self.charges = charges
        self.confirming = confirming
        self.refunds = refunds

    async def finish(
        self,
        claimed: q.BookingRow,
        planned: list[transfers.PlannedTransfer],
        confirmation: CarrierConfirmation,
        signed: list[SignedTicket],
        charge: q.PaymentRow,
    ) -> None:
        """Issue the tickets of a sale the carrier confirmed. If the booking is no longer ours
        to confirm (something released it meanwhile), the sale is undone: the charge is owed
        back with the carrier's cancellation, and HoldExpired says so (details `refunded`)."""
        if await self.confirming.issue(claimed, claimed.user_id, planned, confirmation, signed):
            return
        async with self.db.acquire() as conn:
            current = await q.get(conn, claimed.id)
        if current is not None and current.status == "confirmed":
            return  # another driver of the same payment issued it first
        log.warning("booking %s: confirmed at the carrier after it was released; refunding", claimed.id)
        await self.refunds.refund(claimed.id, charge, "booking_released", carrier_cancel=True)
        reason = current.release_reason if current is not None else None
        raise HoldExpired(details={"reason": reason, "refunded": True})

    async def undo_for_cancelled_departure(
        self, claimed: q.BookingRow, charge: q.PaymentRow, *, carrier_cancel: bool
    ) -> None:
        """A payment whose departure was cancelled: its charge owed back (with the carrier's
        cancellation when the carrier had confirmed), its booking released."""
        await self.refunds.refund(claimed.id, charge, "departure_cancelled", carrier_cancel=carrier_cancel)
        await self.bookings.release(
            claimed.id, "departure_cancelled", tell_carrier=not carrier_cancel, from_status=("paying",)
        )

    async def resume(self, row: q.BookingRow) -> tuple[str, DomainError | None]:
        """Finish or undo one `paying` booking whose lease the caller holds. `confirmed`;
        `refunded` with the carrier's no (the charge refunded, the seats released); `given_back`
        (no money standing: the claim undone, held or released); `charge_unknown` (the
        provider still gives no answer about a charge); `waiting` (the carrier still fails or
        does not answer: nothing changed, the outcome is still unknown)."""
        carrier = self.carriers.get(row.carrier)
        if carrier is None:
            log.error("booking %s: carrier %s is not configured; left paying", row.id, row.carrier)
            return "waiting", None
        if not await self.charges.settle_by_charging(row.id):
            return "charge_unknown", None
        async with self.db.acquire() as conn:
            charge = open_charge(await q.payments(conn, row.id), await fq.of_bookings(conn, [row.id]))
        if charge is None:
            await self.claims.give_back(row)
            return "given_back", None
        try:
            manifest, planned = await self.confirming.manifest(row.user_id, row, carrier)
            confirmation, signed = await self.confirming.confirm(row, carrier, manifest)
        except (CarrierFailed, CarrierTimeout):
            return "waiting", None
        except DepartureCancelled as exc:
            await self.undo_for_cancelled_departure(row, charge, carrier_cancel=False)
            return "refunded", exc
        except DomainError as exc:  # the carrier said no, or consent was withdrawn meanwhile
            log.info("booking %s: not confirmed (%s); refunding", row.id, exc.code)
            await self.refunds.refund(row.id, charge, "recovery")
            await self.bookings.release(
                row.id,
                "payment_failed",
                tell_carrier=not isinstance(exc, CarrierDeclined),
                from_status=("paying",),
            )
            return "refunded", exc
        except Exception:
            log.warning("booking %s: confirmation still unknown", row.id, exc_info=True)
            return "waiting", None
        try:
            await self.finish(row, planned, confirmation, signed, charge)
        except (HoldExpired, DepartureCancelled) as exc:
            return "refunded", exc
        return "confirmed", None
