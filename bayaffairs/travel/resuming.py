"""Resuming an interrupted payment: finishing or undoing a `paying` booking whose lease the
caller holds (the rider retrying the payment, or the sweeper in `recovery.py`).

Whatever charge was asked of the provider and never recorded is re-driven first; then, with
money standing, the carrier is asked again under the same reference: a confirmation issues the
tickets, a refusal refunds the charge and releases the seats; with no money standing the claim
is given back. A partner that still fails or does not answer leaves the booking as it is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bayaffairs.adapters.protocols import PaymentProvider
from bayaffairs.db.queries import travel_bookings as q
from bayaffairs.errors import DomainError
from bayaffairs.storage import Database
from bayaffairs.travel.bookings import TravelBookings
from bayaffairs.travel.carriers import Carriers
from bayaffairs.travel.charges import Charged, Charges, open_charge
from bayaffairs.travel.claims import PaymentClaims
from bayaffairs.travel.confirming import CarrierConfirming
from bayaffairs.travel.errors import CarrierDeclined, CarrierFailed, CarrierTimeout

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
    ) -> None:
        self.db = db
        self.bookings = bookings
        self.carriers = carriers
        self.providers = providers
        self.claims = claims
        self.charges = charges
        self.confirming = confirming

    async def resume(self, row: q.BookingRow) -> tuple[str, DomainError | None]:
        """Finish or undo one `paying` booking whose lease the caller holds. `confirmed`;
        `refunded` with the carrier's no (the charge refunded, the seats released); `given_back`
        (no money standing: the claim undone, held or released); `waiting` (a partner still
        fails or does not answer: nothing changed, the outcome is still unknown)."""
        carrier = self.carriers.get(row.carrier)
        if carrier is None:
            log.error("booking %s: carrier %s is not configured; left paying", row.id, row.carrier)
            return "waiting", None
        if not await self.charges.record_unrecorded_charges(row):
            return "waiting", None
        async with self.db.acquire() as conn:
            charge = open_charge(await q.payments(conn, row.id))
        if charge is None:
            await self.claims.give_back(row)
            return "given_back", None
        try:
            manifest, planned = await self.confirming.manifest(row.user_id, row, carrier)
            confirmation, signed = await self.confirming.confirm(row, carrier, manifest)
        except (CarrierFailed, CarrierTimeout):
            return "waiting", None
        except DomainError as exc:  # the carrier said no, or consent was withdrawn meanwhile
            provider = self.providers(charge.provider)
            if provider is None:
                log.error("booking %s: provider %s is gone; refund owed", row.id, charge.provider)
                return "waiting", None
            log.info("booking %s: not confirmed (%s); refunding", row.id, exc.code)
            await self.charges.refund(row, provider, Charged.of(charge), "recovery")
            await self.bookings.release(
                row.id, "payment_failed", tell_carrier=not isinstance(exc, CarrierDeclined)
            )
            return "refunded", exc
        except Exception:
            log.warning("booking %s: confirmation still unknown", row.id, exc_info=True)
            return "waiting", None
        await self.confirming.issue(row, row.user_id, planned, confirmation, signed)
        return "confirmed", None
