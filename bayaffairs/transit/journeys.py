"""A rider's journeys: listing them, and closing those left open.

The lifecycle (docs/ride-codes.md draws it):

    open --tap-out--> completed
    open --max_journey_minutes pass--> unfinished (charged the operator's rule at once)
    unfinished --late tap-out--> completed (fare to the exit + overtime surcharge, refund line)
    unfinished --repair--> repaired (fare to the rider's exit, refund line)

A journey left without tap-out past its operator's `max_journey_minutes` is closed as
unfinished and priced by the operator's rule (the network's maximum fare from the entry
station, or the fare of staying at it), and that charge goes out at once: from then on the
journey blocks nothing, neither new codes nor tap-ins. Within `repair_days` of its entry the
rider may still say where they left (bayaffairs/transit/repairs.py).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bayaffairs.clock import Clock
from bayaffairs.db.queries import journeys as q
from bayaffairs.errors import Conflict
from bayaffairs.fx import Converter
from bayaffairs.pages import Page
from bayaffairs.storage import Connection, Database
from bayaffairs.transit import repricing
from bayaffairs.transit.model import FareQuote, Trip
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

    async def close_overdue(self, batch: int = 500) -> int:
        """Close journeys open past their operator's limit as unfinished, charged its rule."""
        closed = 0
        for operator in self.network.operators.values():
            if not operator.rules.tap_out:
                continue
            cutoff = self.clock.now() - timedelta(minutes=operator.rules.max_journey_minutes)
            async with self.db.transaction() as conn:
                rows = await q.overdue_open(conn, operator.id, cutoff, batch)
                # and those an uploaded entry closed (the rider entered again since)
                rows += await q.unpriced_unfinished(conn, operator.id, batch)
                if not rows:
                    continue
                await self._close(conn, rows)
                closed += len(rows)
        if closed:
            log.info("%d journeys without tap-out marked unfinished", closed)
        return closed

    async def close_overdue_of(self, accounts: Sequence[bytes]) -> int:
        """Close these ride accounts' journeys open past their operator's limit now, as the job
        would (unfinished, charged its rule), without waiting for its next round: past its time
        a journey blocks nothing. How many were closed."""
        now = self.clock.now()
        cutoffs = {
            o.id: now - timedelta(minutes=o.rules.max_journey_minutes)
            for o in self.network.operators.values()
            if o.rules.tap_out
        }
        async with self.db.transaction() as conn:
            # locked, and open: the job did not close (and charge) it meanwhile
            rows = await q.overdue_open_of(conn, accounts, cutoffs)
            if rows:
                await self._close(conn, rows)
        return len(rows)

    async def _close(self, conn: Connection, rows: Sequence[q.JourneyRow]) -> None:
        """Mark `rows` (locked) unfinished, priced at their operator's rule."""
        await q.mark_unfinished(conn, [r.id for r in rows])
        prices = []
        for row in rows:
            assert row.entry_station is not None and row.entry_at is not None  # open: both set
            operator = self.network.operators[row.operator]
            quote = unfinished_quote(operator, row.entry_station, row.entry_at, row.category)
            prices.append(
                await repricing.price_of(
                    conn,
                    row,
                    quote.amount,
                    f"no tap-out: {quote.rule}",
                    converter=self.converter,
                    now=self.clock.now(),
                    parts=quote.parts,
                )
            )
        await q.set_prices(conn, prices)

    def _operator(self, operator_id: str) -> Operator:
        operator = self.network.operator(operator_id)
        if operator is None:
            raise Conflict("operator_unavailable")
        return operator


def unfinished_quote(operator: Operator, entry_station: str, entry_at: datetime, category: str) -> FareQuote:
    """What a journey closed without its tap-out costs: the operator's rule (the maximum fare
    from the entry, or the fare of staying at it)."""
    if operator.rules.unfinished_fare == "entry_fare":
        return operator.fares.fare(Trip(entry_station, entry_station, entry_at, category=category))
    return operator.fares.max_fare(entry_station, category)
