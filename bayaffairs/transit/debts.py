"""Declined ride charges are debts, not bans.

A journey whose charge the rider's wallet declined becomes a debt. The account goes on the deny
list (gates refuse it, no new code) while any debt is unpaid. The debt is retried automatically
with backoff, `RETRIES` more tries spread over three days (after 12 h, 24 h more, 36 h more), and
the rider may pay it at any time (`POST /v1/me/debts/{id}/payment`, through their wallet).
Whichever pays the last unpaid debt appends a `remove` for the account to the deny list, so gates
let the rider in again with their next delta.

Each try is a charge of its own at the provider (reference `<journey>:debt:<try>`: a retry of a
declined reference would only be declined again); a try is claimed before the provider is
called, so a rider's payment and an automatic retry never both charge; a claim left by a dead
worker is taken over after `stale_seconds` under the same try (the provider answers it again).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bayaffairs.adapters.protocols import ChargeRequest, PaymentProvider
from bayaffairs.backoff import doubling
from bayaffairs.clock import Clock
from bayaffairs.db.queries import debts as q
from bayaffairs.db.queries import deny_list as deny_q
from bayaffairs.db.queries import ride_accounts as accounts_q
from bayaffairs.errors import Conflict, DomainError, NotFound, PartnerError
from bayaffairs.ids import new_id
from bayaffairs.money import Money
from bayaffairs.storage import Connection, Database

log = logging.getLogger("bayaffairs.debts")
RETRIES = 3
FIRST_WAIT = timedelta(hours=12)
LONGEST_WAIT = timedelta(hours=36)
DENY_REASON = "unpaid fare"  # deny-list entries for debts start so; only those are removed

Debt = q.DebtRow


def retry_after(retries_done: int) -> timedelta:
    """The wait before the next automatic try after `retries_done` (0: the declined charge)."""
    return doubling(FIRST_WAIT, retries_done + 1, LONGEST_WAIT)


@dataclass(frozen=True)
class Declined:
    """A journey whose charge was declined. `retry=False`: no automatic retries (nothing to
    charge them to: the debt of an erased rider's pseudonym, whose account is closed already)."""

    journey_id: str
    user_id: str
    retry: bool = True


@dataclass(frozen=True)
class Debts:
    db: Database
    clock: Clock
    providers: Callable[[str], PaymentProvider | None]
    stale_seconds: int = 300

    async def declined(self, conn: Connection, declines: Sequence[Declined]) -> None:
        """In the caller's transaction: these journeys' charges were declined; each rider's
        account is denied until their debts are paid (one deny-list entry per account, however
        many debts). A statement for the debts and one for the deny list, however many."""
        if not declines:
            return
        now = self.clock.now()
        made = await q.open_debts(
            conn,
            [
                q.NewDebt(
                    debt_id=new_id("dbt"),
                    journey_id=d.journey_id,
                    retry_at=now + retry_after(0) if d.retry else None,
                    retries=RETRIES if d.retry else 0,
                )
                for d in declines
            ],
            at=now,
        )
        if not made:
            return
        first: dict[str, str] = {}
        for user, journey_id in sorted(made, key=lambda m: m[1]):
            first.setdefault(user, journey_id)
        tokens = await accounts_q.current_tokens(conn, sorted(first))
        entries = [(token.hex(), f"{DENY_REASON} {first[user]}") for user, token in sorted(tokens.items())]
        await deny_q.add_missing(conn, "account", entries, now)

    async def list(self, user_id: str) -> list[Debt]:
        async with self.db.acquire() as conn:
            return await q.for_user(conn, user_id)

    async def pay(self, user_id: str, debt_id: str) -> Debt:
        """The rider pays now. A paid debt answers as it is; one being paid is 409; a decline
        is 409 payment_declined (the debt stays, and so do its automatic retries)."""
        async with self.db.acquire() as conn:
            debt = await q.get(conn, user_id, debt_id)
            if debt is None:
                raise NotFound("debt_not_found")
            if debt.status == "paid":
                return debt
            claimed = await q.claim(conn, debt.id, stale_seconds=self.stale_seconds, at=self.clock.now())
        if claimed is None:
            raise Conflict("debt_payment_in_progress", details={"retry_after": 5})
        settled, answered = await self._try(claimed, automatic=False)
        if not answered:
            raise PartnerError("payment_provider_unavailable")
        if settled.status != "paid":
            raise Conflict("payment_declined", details={"debt_id": settled.id})
        return settled

    async def retry_due(self, limit: int = 100) -> int:
        """The automatic retries that are due; returns how many were tried."""
        async with self.db.acquire() as conn:
            ids = await q.due(conn, self.clock.now(), limit)
        tried = 0
        for debt_id in ids:
            async with self.db.acquire() as conn:
                claimed = await q.claim(conn, debt_id, stale_seconds=self.stale_seconds, at=self.clock.now())
            if claimed is None:
                continue  # the rider is paying it, or another worker took it
            await self._try(claimed, automatic=True)
            tried += 1
        return tried

    async def _try(self, claimed: q.Claimed, *, automatic: bool) -> tuple[Debt, bool]:
        """The debt after one try, and whether the provider answered it."""
        debt = claimed.debt
        provider = self.providers(claimed.provider) if claimed.provider else None
        reference: str | None = None
        answered = False
        if provider is None:
            log.error("debt %s: payment provider %r is not enabled", debt.id, claimed.provider)
        else:
            try:
                outcome = await provider.charge(
                    ChargeRequest(
                        reference=claimed.reference,
                        amount=Money(debt.amount, debt.currency),
                        account=debt.user_id,
                        description=f"unpaid ride with {debt.operator}",
                    )
                )
            except DomainError as exc:
                log.warning("debt %s: charge not answered (%s)", debt.id, exc.code)
            else:
                answered = True
                reference = outcome.provider_reference if outcome.succeeded else None
        async with self.db.transaction() as conn:
            if reference is not None:
                return await self._paid(conn, debt, reference), answered
            # An automatic try the provider did not answer is not counted against the retries.
            counted = automatic and answered
            retry_at = self._next_retry(debt.retries_left - 1) if counted else None
            if automatic and not answered:
                retry_at = self.clock.now() + FIRST_WAIT
            again = await q.unpaid_again(
                conn, debt.id, retry_at=retry_at, automatic=automatic, counted=counted
            )
            return again, answered

    def _next_retry(self, left: int) -> datetime | None:
        if left <= 0:
            return None
        return self.clock.now() + retry_after(RETRIES - left)

    async def _paid(self, conn: Connection, debt: Debt, reference: str) -> Debt:
        now = self.clock.now()
        row = await q.paid(conn, debt.id, reference=reference, at=now)
        if await q.unpaid_count(conn, debt.user_id) == 0:
            token = await accounts_q.current_token(conn, debt.user_id)
            latest = await deny_q.latest(conn, "account", token.hex()) if token is not None else None
            ours = (
                latest is not None
                and latest.action == "add"
                and (latest.reason or "").startswith(DENY_REASON)
            )
            if token is not None and ours:  # denied for a debt, not for another reason
                await deny_q.append(conn, "account", token.hex(), "remove", "debts paid", now)
        return row
