"""Repairing an unfinished journey: the rider says where they left it.

Within `repair_days` of its entry a journey closed as unfinished (charged the maximum fare) can
be repaired with the station the rider really left at (not the entry: that is the "stayed
inside" case the maximum fare is for). The first `self_repairs_per_month` repairs a rider asks
at an operator in a calendar month (the operator's time zone) are applied at once: the journey
is priced from entry to that exit and the difference to what was charged is refunded
(bayaffairs/transit/repricing.py). Beyond that allowance a repair is a request the operator
approves (applied then, as above) or refuses; until then the maximum fare stands. A journey gets
one repair: a refused request is not asked again. A request whose journey was completed
otherwise meanwhile (a late tap-out) is superseded when decided.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from bayaffairs.clock import Clock
from bayaffairs.db.queries import journeys as journeys_q
from bayaffairs.db.queries import repairs as q
from bayaffairs.errors import Conflict, InvalidInput, NotFound
from bayaffairs.fx import Converter
from bayaffairs.ids import new_id
from bayaffairs.pages import Page
from bayaffairs.storage import Connection, Database
from bayaffairs.transit import repricing
from bayaffairs.transit.model import Trip
from bayaffairs.transit.network import Network, Operator
from bayaffairs.transit.products import FareProducts

Repair = q.RepairRow
Decision = Literal["approve", "refuse"]


@dataclass(frozen=True)
class RepairOutcome:
    """`journey` repaired at once, or `pending` waiting for the operator."""

    repair: q.RepairRow
    journey: journeys_q.JourneyRow


@dataclass(frozen=True)
class Repairs:
    db: Database
    clock: Clock
    network: Network
    converter: Converter
    products: FareProducts
    repair_days: int = 7

    async def ask(self, user_id: str, journey_id: str, exit_station: str) -> RepairOutcome:
        now = self.clock.now()
        async with self.db.transaction() as conn:
            journey = await journeys_q.get_for_user(conn, user_id, journey_id, lock=True)
            if journey is None:
                raise NotFound("journey_not_found")
            operator = self._operator(journey.operator)
            if self._exit_operator(operator, exit_station) is None:
                raise InvalidInput({"exit_station": [f"not a station of {operator.id}"]})
            if exit_station == journey.entry_station:
                raise InvalidInput({"exit_station": ["the exit is the entry station"]})
            asked = await q.for_journey(conn, journey.id)
            if asked is not None and asked.status == "pending" and asked.exit_station == exit_station:
                return RepairOutcome(asked, journey)  # asked again: the same request
            if asked is not None:
                raise Conflict("repair_exists", status=asked.status)
            if journey.status != "unfinished":
                raise Conflict("journey_not_unfinished", status=journey.status)
            assert journey.entry_at is not None  # it was open
            if now > journey.entry_at + timedelta(days=self.repair_days):
                raise Conflict("repair_too_late", repair_days=self.repair_days)
            await q.lock_rider(conn, user_id, operator.id)
            used = await q.count_since(conn, user_id, operator.id, month_start(now, operator))
            at_once = used < operator.rules.self_repairs_per_month
            repair = await q.insert(
                conn,
                repair_id=new_id("rep"),
                journey_id=journey.id,
                user_id=user_id,
                operator=operator.id,
                exit_station=exit_station,
                status="applied" if at_once else "pending",
                at=now,
            )
            if at_once:
                journey = await self._apply(conn, operator, journey, exit_station)
            return RepairOutcome(repair, journey)

    async def listing(
        self, operator_id: str, *, status: str | None, cursor: str | None, limit: int
    ) -> Page[RepairOutcome]:
        """The operator's repairs (of one status), each with its journey."""
        self._operator(operator_id)
        async with self.db.acquire() as conn:
            rows = await q.list_for_operator(conn, operator_id, status=status, after=cursor, limit=limit + 1)
            found = {j.id: j for j in await journeys_q.get_many(conn, [r.journey_id for r in rows])}
        page = Page.from_rows(rows, limit, key=lambda r: r.id)
        return Page([RepairOutcome(r, found[r.journey_id]) for r in page.items], page.next_cursor)

    async def decide(
        self, operator_id: str, repair_id: str, decision: Decision, decided_by: str | None
    ) -> RepairOutcome:
        operator = self._operator(operator_id)
        now = self.clock.now()
        async with self.db.transaction() as conn:
            repair = await q.get(conn, operator_id, repair_id, lock=True)
            if repair is None:
                raise NotFound("repair_not_found")
            if repair.status != "pending":
                raise Conflict("repair_decided", status=repair.status)
            journey = await journeys_q.get_for_user(conn, repair.user_id, repair.journey_id, lock=True)
            assert journey is not None  # journeys are never deleted
            if journey.status != "unfinished":
                status = "superseded"
            else:
                status = "approved" if decision == "approve" else "refused"
            repair = await q.decide(conn, repair.id, status=status, at=now, decided_by=decided_by)
            if status == "approved":
                journey = await self._apply(conn, operator, journey, repair.exit_station)
            return RepairOutcome(repair, journey)

    async def _apply(
        self, conn: Connection, operator: Operator, journey: journeys_q.JourneyRow, exit_station: str
    ) -> journeys_q.JourneyRow:
        assert journey.entry_station is not None and journey.entry_at is not None
        await journeys_q.close_repaired(conn, journey.id, exit_station=exit_station)
        # an exit on a network a through-fare rule joins is priced (and split) by the rule
        quote, weights = self.network.fare(
            operator.id,
            self._exit_operator(operator, exit_station) or operator.id,
            Trip(journey.entry_station, exit_station, journey.entry_at, journey.category),
        )
        await repricing.reprice(
            conn,
            journey,
            quote.amount,
            f"repaired: {quote.rule}",
            converter=self.converter,
            products=self.products,
            now=self.clock.now(),
            reason="repair",
            parts=quote.parts,
            share_weights=weights,
        )
        repaired = await journeys_q.get_for_user(conn, journey.user_id, journey.id)
        assert repaired is not None
        return repaired

    def _operator(self, operator_id: str) -> Operator:
        operator = self.network.operator(operator_id)
        if operator is None:
            raise NotFound("operator_not_found")
        return operator

    def _exit_operator(self, operator: Operator, station: str) -> str | None:
        """Whose stop `station` is, of the operators a journey entered at `operator` may end at."""
        return next(
            (
                o
                for o in self.network.exit_operators(operator.id)
                if self.network.operators[o].has_stop(station)
            ),
            None,
        )


def month_start(now: datetime, operator: Operator) -> datetime:
    """The first instant of `now`'s calendar month where the operator is."""
    local = now.astimezone(ZoneInfo(operator.info.time_zone))
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
