"""Charging riders for their journeys: ride now, pay later.

A journey priced at the gate waits as `pending`; this job hands it to the rider's payment
provider with the journey id as the idempotency reference (so a retry after a crash never
charges twice), and marks it charged or failed. A failed charge puts the account on the deny
list: riding is blocked until the debt is settled, as the mainland ride-code practice does.
Claiming sets `charging` and commits before the provider is called, so no database transaction
waits on a partner; a claim left by a dead worker is retried after `stale_seconds`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bayaffairs.adapters.protocols import ChargeRequest, PaymentProvider
from bayaffairs.db.queries import journeys as q
from bayaffairs.db.queries import ride_accounts as accounts_q
from bayaffairs.errors import DomainError
from bayaffairs.money import Money
from bayaffairs.storage import Database
from bayaffairs.transit.denylist import DenyList

log = logging.getLogger("bayaffairs.charging")


class RideCharges:
    def __init__(
        self,
        db: Database,
        providers: Callable[[str], PaymentProvider | None],
        deny_list: DenyList,
        stale_seconds: int = 300,
    ) -> None:
        self.db = db
        self.providers = providers
        self.deny_list = deny_list
        self.stale_seconds = stale_seconds

    async def charge_pending(self, limit: int = 200) -> int:
        async with self.db.transaction() as conn:
            jobs = await q.claim_charges(conn, limit, self.stale_seconds)
        for job in jobs:
            outcome, reference = await self._charge(job)
            async with self.db.acquire() as conn:
                if outcome == "retry":
                    await q.release_charge(conn, job.journey_id)
                    continue
                await q.finish_charge(conn, job.journey_id, charged=outcome == "charged", reference=reference)
                if outcome == "failed":
                    token = await accounts_q.current_token(conn, job.user_id)
                    if token is not None:
                        await self.deny_list.change(
                            "account", token.hex(), "add", f"unpaid fare {job.journey_id}"
                        )
        return len(jobs)

    async def _charge(self, job: q.ChargeJob) -> tuple[str, str | None]:
        """("charged" | "failed" | "retry", the provider's reference)."""
        provider = self.providers(job.provider) if job.provider else None
        if provider is None:
            log.warning("journey %s: payment provider %r is not enabled", job.journey_id, job.provider)
            return "failed", None
        try:
            outcome = await provider.charge(
                ChargeRequest(
                    reference=job.journey_id,
                    amount=Money(job.amount, job.currency),
                    account=job.user_id,
                    description=f"ride with {job.operator}",
                )
            )
        except DomainError as exc:  # the partner did not answer: try again next round
            log.warning("journey %s: charge not answered (%s); will retry", job.journey_id, exc.code)
            return "retry", None
        return ("charged" if outcome.succeeded else "failed"), outcome.provider_reference
