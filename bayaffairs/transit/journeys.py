"""A rider's journeys: listing, repairing an unfinished one, and closing those left open.

A journey left without tap-out past its operator's `max_journey_minutes` becomes unfinished and
is priced by the operator's rule (the network's maximum fare from the entry station, or the
fare of staying at it). That charge is held for `repair_days`: until the rider repairs the
journey (`exit_station`: where they really left) they get no new code, and the repair re-prices
it from entry to that exit; a journey not repaired in time is charged at the rule's fare and can
no longer be repaired.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from bayaffairs.clock import Clock
from bayaffairs.db.queries import journeys as q
from bayaffairs.db.queries import users as users_q
from bayaffairs.errors import Conflict, DomainError, InvalidInput, NotFound
from bayaffairs.fx import Converter
from bayaffairs.money import Money
from bayaffairs.pages import Page
from bayaffairs.storage import Connection, Database
from bayaffairs.transit.model import Trip
from bayaffairs.transit.network import Network, Operator

log = logging.getLogger("bayaffairs.journeys")
Journey = q.JourneyRow  # what callers get: a frozen dataclass of the journey


@dataclass(frozen=True)
class Journeys:
    db: Database
    clock: Clock
    network: Network
    converter: Converter

    async def list(self, user_id: str, *, cursor: str | None, limit: int) -> Page[q.JourneyRow]:
        async with self.db.acquire() as conn:
            rows = await q.list_for_user(conn, user_id, before=cursor, limit=limit + 1)
        return Page.from_rows(rows, limit, key=lambda j: j.id)

    async def repair(self, user_id: str, journey_id: str, exit_station: str) -> q.JourneyRow:
        async with self.db.transaction() as conn:
            journey = await q.get_for_user(conn, user_id, journey_id, lock=True)
            if journey is None:
                raise NotFound("journey_not_found")
            if journey.status != "unfinished":
                raise Conflict("journey_not_unfinished", status=journey.status)
            if journey.charge_status in ("charging", "charged"):
                raise Conflict("journey_already_charged")
            operator = self._operator(journey.operator)
            if not operator.has_stop(exit_station):
                raise InvalidInput({"exit_station": [f"not a station of {operator.id}"]})
            row = await q.close_repaired(conn, journey.id, exit_station=exit_station)
            assert row.entry_station is not None and row.entry_at is not None
            quote = operator.fares.fare(
                Trip(row.entry_station, exit_station, row.entry_at, category=row.category)
            )
            price = await self._price(conn, row, quote.amount, f"repaired: {quote.rule}")
            await q.set_prices(conn, [price])
            repaired = await q.get_for_user(conn, user_id, journey_id)
            assert repaired is not None  # found above, and journeys are never deleted
            return repaired

    async def close_overdue(self, batch: int = 500) -> int:
        """Mark journeys open past their operator's limit unfinished and charge them its rule."""
        closed = 0
        for operator in self.network.operators.values():
            if not operator.rules.tap_out:
                continue
            cutoff = self.clock.now() - timedelta(minutes=operator.rules.max_journey_minutes)
            async with self.db.transaction() as conn:
                rows = await q.overdue_open(conn, operator.id, cutoff, batch)
                if not rows:
                    continue
                await q.mark_unfinished(conn, [r.id for r in rows])
                prices = []
                for row in rows:
                    assert row.entry_station is not None and row.entry_at is not None  # open: both set
                    if operator.rules.unfinished_fare == "entry_fare":
                        quote = operator.fares.fare(
                            Trip(row.entry_station, row.entry_station, row.entry_at, category=row.category)
                        )
                    else:
                        quote = operator.fares.max_fare(row.entry_station, row.category)
                    prices.append(
                        await self._price(conn, row, quote.amount, f"no tap-out: {quote.rule}", held=True)
                    )
                await q.set_prices(conn, prices)
                closed += len(rows)
        if closed:
            log.info("%d journeys without tap-out marked unfinished", closed)
        return closed

    def _operator(self, operator_id: str) -> Operator:
        operator = self.network.operator(operator_id)
        if operator is None:
            raise Conflict("operator_unavailable")
        return operator

    async def _price(
        self, conn: Connection, row: q.JourneyRow, fare: Money, rule: str, *, held: bool = False
    ) -> q.Price:
        """The fare, and the charge when a rate is at hand (else the charging job converts later)."""
        user = await users_q.get(conn, row.user_id)
        wallet = user.wallet_currency if user else None
        unconverted = q.Price(row.id, fare.amount, fare.currency, rule, None, None, None, None, held)
        if wallet is None:
            return unconverted
        try:
            charge = await self.converter.charge(fare, wallet, self.clock.now())
        except (DomainError, LookupError) as exc:
            log.warning("journey %s: no rate now (%r); the charge is converted later", row.id, exc)
            return unconverted
        return q.Price(
            row.id,
            fare.amount,
            fare.currency,
            rule,
            charge.charge.amount,
            wallet,
            charge.rate,
            charge.source,
            held,
        )
