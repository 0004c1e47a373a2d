"""Daily settlement per operator, in the operator's currency.

A day is the operator's local calendar day; a journey belongs to the day it ended (or began, for
tap-in-only modes). Line items sum exactly to the totals, and the same day always gives the same
file: rows are ordered by time and id, and nothing in the file depends on when it was made.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bayaffairs.db.queries import journeys as q
from bayaffairs.errors import NotFound
from bayaffairs.money import Money
from bayaffairs.storage import Database
from bayaffairs.transit.network import Network

CSV_COLUMNS = (
    "journey_id",
    "status",
    "category",
    "entry_station",
    "entry_at",
    "exit_station",
    "exit_at",
    "fare_minor",
    "currency",
    "rule",
)


@dataclass(frozen=True)
class Settlement:
    operator: str
    day: date
    currency: str
    journeys: int
    total: Money
    lines: list[q.JourneyRow]
    by_status: dict[str, int]

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["# operator", self.operator, "day", self.day.isoformat(), "currency", self.currency])
        writer.writerow(CSV_COLUMNS)
        for line in self.lines:
            writer.writerow(
                [
                    line.id,
                    line.status,
                    line.category,
                    line.entry_station or "",
                    line.entry_at.isoformat() if line.entry_at else "",
                    line.exit_station or "",
                    line.exit_at.isoformat() if line.exit_at else "",
                    line.fare_amount,
                    line.fare_currency,
                    line.fare_rule or "",
                ]
            )
        writer.writerow(["# total", self.journeys, "journeys", self.total.amount, self.currency])
        return out.getvalue()


class Settlements:
    def __init__(self, db: Database, network: Network) -> None:
        self.db = db
        self.network = network

    async def day(self, operator_id: str, day: date) -> Settlement:
        operator = self.network.operator(operator_id)
        if operator is None:
            raise NotFound("operator_not_found")
        zone = ZoneInfo(operator.info.time_zone)
        start = datetime.combine(day, time(0), zone)
        end = datetime.combine(day + timedelta(days=1), time(0), zone)
        async with self.db.acquire() as conn:
            rows = await q.settled_between(conn, operator_id, start, end)
        total = sum((r.fare_amount or 0) for r in rows)
        by_status: dict[str, int] = {}
        for row in rows:
            by_status[row.status] = by_status.get(row.status, 0) + (row.fare_amount or 0)
        return Settlement(
            operator_id, day, operator.currency, len(rows), Money(total, operator.currency), rows, by_status
        )
