"""Daily settlement files per operator, in the operator's currency, that never change once closed.

A day is the operator's local calendar day; a journey belongs to the day it ended (or began, for
tap-in-only modes and journeys never tapped out). Until the day closes (`settlement_close` of the
next local day, 04:00 by default) its file is read from the journeys as they are (`open`). The
close writes its lines once, numbered in file order, with the totals and the SHA-256 of the CSV;
from then on the file is rendered from those rows, byte for byte the same.

Whatever reaches a journey after its day closed (an offline tap uploaded late, a repair, a
recovered or failed charge) is adjusted in the next day to close: a `reversal` line takes back
what was settled (amounts negated) and a `restatement` line gives the journey as it is now, both
naming the journey and its original day. A journey that first reaches settlement after its day
closed has a restatement only. Days close in order, one operator at a time (an advisory lock), so
re-running a close never rewrites a closed day.

Files are produced page by page (a keyset over the day's journeys, or over the closed lines), so
a day of a million journeys needs the memory of one page.
"""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import io
import secrets
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo

from bayaffairs.clock import Clock
from bayaffairs.config.settings import SettlementSettings
from bayaffairs.db.queries import settlements as q
from bayaffairs.db.queries.settlements import Line, LineKind
from bayaffairs.errors import Conflict, InvalidInput, NotFound
from bayaffairs.storage import Connection, Database, Record
from bayaffairs.transit.network import Network, Operator
from bayaffairs.transit.products import FareProduct

Status = Literal["open", "closed"]

CSV_COLUMNS = (
    "kind",
    "journey_id",
    "original_date",
    "status",
    "category",
    "entry_station",
    "entry_at",
    "exit_station",
    "exit_at",
    "base_fare",
    "concession",
    "discounts",
    "fare",
    "share",
    "currency",
    "charge_status",
    "rider_amount",
    "rider_currency",
    "fx_rate",
)
LINE_KINDS: tuple[str, ...] = get_args(LineKind)
FARE_TOTAL_KEYS = ("lines", "base_fare", "concession", "fare", "share")
READINGS_KEPT = 256  # open-day readings whose totals a process keeps for their next pages


@dataclass(frozen=True)
class SettlementPage:
    operator: str
    day: date
    currency: str
    status: Status
    closes_at: datetime
    closed_at: datetime | None
    checksum: str | None
    lines: list[Line]
    adjustments: list[Line]
    totals: dict[str, list[dict[str, Any]]]
    next_cursor: str | None


@dataclass(frozen=True)
class _Reading:
    """What the pages of one reading of an open day share."""

    totals: dict[str, list[dict[str, Any]]]
    adjustments: list[Line]


class Totals:
    """Per currency and charge status: lines and amounts in the operator's currency (`fare`), and
    what riders were charged in their own (`rider`)."""

    def __init__(self) -> None:
        self.fare: dict[tuple[str, str], dict[str, int]] = {}
        self.rider: dict[tuple[str, str], dict[str, int]] = {}

    def add_records(self, records: Iterable[Record]) -> Totals:
        for r in records:
            if r["grp"] == "fare":
                self._add_fare(r["currency"], r["charge_status"], {k: int(r[k]) for k in FARE_TOTAL_KEYS})
            else:
                self._add_rider(r["currency"], r["charge_status"], int(r["lines"]), int(r["amount"] or 0))
        return self

    def add_lines(self, lines: Iterable[Line]) -> Totals:
        for line in lines:
            self._add_fare(
                line.currency,
                line.charge_status,
                {
                    "lines": 1,
                    "base_fare": line.base_fare,
                    "concession": line.concession,
                    "fare": line.fare,
                    "share": line.share,
                },
            )
            if line.rider_currency is not None:
                self._add_rider(line.rider_currency, line.charge_status, 1, line.rider_amount or 0)
        return self

    def _add_fare(self, currency: str, status: str, amounts: dict[str, int]) -> None:
        into = self.fare.setdefault((currency, status), dict.fromkeys(FARE_TOTAL_KEYS, 0))
        for key, value in amounts.items():
            into[key] += value

    def _add_rider(self, currency: str, status: str, lines: int, amount: int) -> None:
        into = self.rider.setdefault((currency, status), {"lines": 0, "amount": 0})
        into["lines"] += lines
        into["amount"] += amount

    def as_dict(self) -> dict[str, list[dict[str, Any]]]:
        return {
            "fare": [{"currency": c, "charge_status": s, **v} for (c, s), v in sorted(self.fare.items())],
            "rider": [{"currency": c, "charge_status": s, **v} for (c, s), v in sorted(self.rider.items())],
        }


class Settlements:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        network: Network,
        settings: SettlementSettings,
        products: Sequence[FareProduct] = (),
    ) -> None:
        self.db = db
        self.clock = clock
        self.network = network
        self.settings = settings
        self.subsidies = [p for p in products if p.kind == "monthly_subsidy"]
        self._readings: OrderedDict[tuple[str, date, str], _Reading] = OrderedDict()

    # -- when -----------------------------------------------------------------------------

    def _operator(self, operator_id: str) -> Operator:
        operator = self.network.operator(operator_id)
        if operator is None:
            raise NotFound("operator_not_found")
        return operator

    @staticmethod
    def bounds(operator: Operator, day: date) -> tuple[datetime, datetime]:
        zone = ZoneInfo(operator.info.time_zone)
        return datetime.combine(day, time(0), zone), datetime.combine(day + timedelta(days=1), time(0), zone)

    def closes_at(self, operator: Operator, day: date) -> datetime:
        zone = ZoneInfo(operator.info.time_zone)
        return datetime.combine(day + timedelta(days=1), self.settings.settlement_close, zone)

    def last_due(self, operator: Operator) -> date:
        """The latest local day whose close time has passed."""
        zone = ZoneInfo(operator.info.time_zone)
        now = self.clock.now().astimezone(zone)
        day = now.date() - timedelta(days=1)
        return (
            day
            if now.timetz().replace(tzinfo=None) >= self.settings.settlement_close
            else day - timedelta(days=1)
        )

    # -- reading ----------------------------------------------------------------------------

    async def page(
        self, operator_id: str, day: date, *, cursor: str | None = None, limit: int | None = None
    ) -> SettlementPage:
        """One page of a day's file: its journey lines, then its adjustment lines."""
        operator = self._operator(operator_id)
        limit = min(limit or self.settings.page_size, self.settings.page_size)
        async with self.db.acquire() as conn:
            closed = await q.closed_day(conn, operator.id, day)
            if closed is not None:
                return await self._closed_page(conn, operator, closed, _cursor(cursor, "c"), limit)
            return await self._open_page(conn, operator, day, _cursor(cursor, "o"), limit)

    async def _closed_page(
        self, conn: Connection, operator: Operator, closed: q.ClosedDay, cursor: list[str] | None, limit: int
    ) -> SettlementPage:
        after = _int(cursor[0]) if cursor else 0
        rows = await q.closed_lines(conn, operator.id, closed.day, after, limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        return SettlementPage(
            operator=operator.id,
            day=closed.day,
            currency=closed.currency,
            status="closed",
            closes_at=self.closes_at(operator, closed.day),
            closed_at=closed.closed_at,
            checksum=closed.checksum,
            lines=[line for _, line in rows if line.kind == "journey"],
            adjustments=[line for _, line in rows if line.kind != "journey"],
            totals=closed.totals,
            next_cursor=_encode("c", str(rows[-1][0])) if more else None,
        )

    async def _open_page(
        self, conn: Connection, operator: Operator, day: date, cursor: list[str] | None, limit: int
    ) -> SettlementPage:
        start, end = self.bounds(operator, day)
        lines: list[Line] = []
        adjustments: list[Line] = []
        next_cursor = None
        # A reading of an open day: its first page reads the day's totals and pending adjustments
        # once, and the pages after it (their cursors name the reading) share them, while this
        # process still has them; else (another process, or long after) they are read again.
        reading = cursor[0] if cursor else ""
        snapshot = self._readings.get((operator.id, day, reading))
        if snapshot is None:
            reading = secrets.token_urlsafe(9)
            pending = await self._pending_adjustments(conn, operator, day)
            totals = Totals().add_records(await q.day_journey_totals(conn, operator.id, start, end))
            snapshot = _Reading(totals.add_lines(pending).as_dict(), pending)
            self._remember((operator.id, day, reading), snapshot)
        else:
            self._readings.move_to_end((operator.id, day, reading))
        phase = cursor[1] if cursor and len(cursor) > 1 else "j"
        if phase not in ("j", "a"):
            raise InvalidInput({"cursor": ["not a cursor of this list"]})
        if phase == "j":
            after = (_instant(cursor[2]), cursor[3]) if cursor and len(cursor) == 4 else None
            rows = await q.day_journeys(conn, operator.id, day, start, end, after, limit + 1)
            lines = [line for _, line in rows[:limit]]
            if len(rows) > limit:
                settles_at, last = rows[limit - 1]
                next_cursor = _encode("o", reading, "j", settles_at.isoformat(), last.journey_id)
            else:
                phase, cursor = "a", None
                limit -= len(lines)
        if phase == "a" and next_cursor is None:
            skip = _int(cursor[2]) if cursor and len(cursor) == 3 else 0
            adjustments = snapshot.adjustments[skip : skip + limit]
            if skip + limit < len(snapshot.adjustments):
                next_cursor = _encode("o", reading, "a", str(skip + limit))
        return SettlementPage(
            operator=operator.id,
            day=day,
            currency=operator.currency,
            status="open",
            closes_at=self.closes_at(operator, day),
            closed_at=None,
            checksum=None,
            lines=lines,
            adjustments=adjustments,
            totals=snapshot.totals,
            next_cursor=next_cursor,
        )

    def _remember(self, key: tuple[str, date, str], reading: _Reading) -> None:
        self._readings[key] = reading
        while len(self._readings) > READINGS_KEPT:
            self._readings.popitem(last=False)

    async def _pending_adjustments(self, conn: Connection, operator: Operator, day: date) -> list[Line]:
        """What the close of `day` would write after its journeys: only the next day to close (or
        the first) has any."""
        last = await q.last_closed(conn, operator.id)
        if last is not None and last.day + timedelta(days=1) != day:
            return []
        return await self._after_journeys(conn, operator, day, last)

    async def _after_journeys(
        self, conn: Connection, operator: Operator, day: date, last: q.ClosedDay | None
    ) -> list[Line]:
        """The lines of `day` after its journeys: the subsidy credits it settles, then the
        adjustments of journeys and of credits changed since the last close."""
        since = (
            None if last is None else last.closed_db_at - timedelta(minutes=self.settings.late_margin_minutes)
        )
        lines = await self._credits(conn, operator, day)
        lines += _adjustment_lines(
            await q.changes(conn, operator.id, operator.info.time_zone, since, self.bounds(operator, day)[0])
        )
        if since is not None:
            lines += await self._credit_adjustments(conn, operator, day, since)
        return lines

    # -- subsidy credits ----------------------------------------------------------------------

    async def _credits(self, conn: Connection, operator: Operator, day: date) -> list[Line]:
        """On the first day of a month, the operator's part of each rider's credit for the month
        before under the subsidies covering it."""
        if day.day != 1:
            return []
        lines: list[Line] = []
        for product in self._subsidies_of(operator):
            first, start, end = product.month(_noon(day - timedelta(days=1), product))
            spends = await q.month_spends(conn, sorted(product.operators), start, end)
            for user_id, part in _parts(product, operator.id, spends).items():
                if part:
                    lines.append(_credit_line("credit", product, user_id, first, part))
        return lines

    async def _credit_adjustments(
        self, conn: Connection, operator: Operator, day: date, since: datetime
    ) -> list[Line]:
        """Credits settled already (their month's credit day has closed) whose rider month has
        changed since: the reversal of what was settled and the credit as it is now."""
        lines: list[Line] = []
        for product in self._subsidies_of(operator):
            _, settled_before, _ = product.month(_noon(day - timedelta(days=1), product))
            changed = await q.changed_rider_months(
                conn, sorted(product.operators), product.time_zone, since, settled_before
            )
            months: dict[date, list[str]] = {}
            for user_id, first in changed:
                months.setdefault(first, []).append(user_id)
            for first, users in sorted(months.items()):
                _, start, end = product.month(_noon(first, product))
                spends = await q.month_spends(conn, sorted(product.operators), start, end, users)
                parts = _parts(product, operator.id, spends)
                references = {_reference(product, u, first): u for u in users}
                settled = await q.settled_lines(conn, operator.id, list(references))
                for reference, user_id in sorted(references.items()):
                    before = settled.get(reference)
                    now = _credit_line("restatement", product, user_id, first, parts.get(user_id, 0))
                    if before is None and now.fare == 0:
                        continue
                    if before is not None and (before.fare, before.discounts) == (now.fare, now.discounts):
                        continue
                    if before is not None:
                        lines.append(before.reversed())
                    lines.append(now)
        return lines

    def _subsidies_of(self, operator: Operator) -> list[FareProduct]:
        return [p for p in self.subsidies if operator.id in p.operators]

    async def checksum(self, operator_id: str, day: date) -> str | None:
        """A closed day's checksum (None: the day is open); raises NotFound for an unknown operator."""
        operator = self._operator(operator_id)
        async with self.db.acquire() as conn:
            closed = await q.closed_day(conn, operator.id, day)
        return closed.checksum if closed else None

    async def csv(self, operator_id: str, day: date) -> AsyncIterator[bytes]:
        """The day's CSV, a page at a time. A closed day's is the bytes its checksum is of."""
        operator = self._operator(operator_id)
        async with self.db.acquire() as conn:
            closed = await q.closed_day(conn, operator.id, day)
        if closed is not None:
            async with self.db.acquire() as conn:
                async for chunk in self._closed_csv(
                    conn, operator, closed.day, closed.currency, closed.closed_at, closed.totals
                ):
                    yield chunk
            return
        zone = ZoneInfo(operator.info.time_zone)
        start, end = self.bounds(operator, day)
        yield _header(operator, day, operator.currency, "open", None)
        async with self.db.acquire() as conn:
            after: tuple[datetime, str] | None = None
            while True:
                rows = await q.day_journeys(
                    conn, operator.id, day, start, end, after, self.settings.page_size
                )
                if not rows:
                    break
                yield _rows([line for _, line in rows], zone)
                after = (rows[-1][0], rows[-1][1].journey_id)
            adjustments = await self._pending_adjustments(conn, operator, day)
            yield _rows(adjustments, zone)
            totals = Totals().add_records(await q.day_journey_totals(conn, operator.id, start, end))
        yield _footer(totals.add_lines(adjustments).as_dict())

    async def _closed_csv(
        self,
        conn: Connection,
        operator: Operator,
        day: date,
        currency: str,
        closed_at: datetime,
        totals: dict[str, Any],
    ) -> AsyncIterator[bytes]:
        """A closed day's bytes: its currency is the one stored at its close, not today's config."""
        zone = ZoneInfo(operator.info.time_zone)
        yield _header(operator, day, currency, "closed", closed_at)
        after = 0
        while True:
            rows = await q.closed_lines(conn, operator.id, day, after, self.settings.page_size)
            if not rows:
                break
            yield _rows([line for _, line in rows], zone)
            after = rows[-1][0]
        yield _footer(totals)

    # -- closing ----------------------------------------------------------------------------

    async def close(self, operator_id: str, day: date) -> list[q.ClosedDay]:
        """Close every day of the operator not closed yet, in order, through `day` (which must be
        over in the operator's time zone); the days it closed. Closing a closed day does nothing."""
        operator = self._operator(operator_id)
        if self.clock.now() < self.bounds(operator, day)[1]:
            raise Conflict("settlement_day_not_over", date=day.isoformat())
        closed: list[q.ClosedDay] = []
        while True:
            async with self.db.transaction() as conn:
                await q.lock_operator(conn, operator.id)
                last = await q.last_closed(conn, operator.id)
                if last is not None and last.day >= day:
                    return closed
                if last is not None:
                    next_day = last.day + timedelta(days=1)
                else:
                    first = await q.first_settles_at(conn, operator.id)
                    zone = ZoneInfo(operator.info.time_zone)
                    next_day = min(day, first.astimezone(zone).date()) if first else day
                closed.append(await self._close_one(conn, operator, next_day, last))

    async def close_due(self) -> int:
        """The periodic job: close each operator's days whose close time has passed (at most
        `close_days_per_run` per operator and run); how many it closed."""
        done = 0
        for operator in self.network.operators.values():
            due = self.last_due(operator)
            async with self.db.acquire() as conn:
                last = await q.last_closed(conn, operator.id)
            if last is not None and last.day >= due:
                continue
            through = due
            if last is not None:
                through = min(due, last.day + timedelta(days=self.settings.close_days_per_run))
            done += len(await self.close(operator.id, through))
        return done

    async def _close_one(
        self, conn: Connection, operator: Operator, day: date, last: q.ClosedDay | None
    ) -> q.ClosedDay:
        start, end = self.bounds(operator, day)
        journeys = await q.insert_day_journeys(conn, operator.id, day, start, end)
        adjustments = await self._after_journeys(conn, operator, day, last)
        await q.insert_lines(conn, operator.id, day, journeys + 1, adjustments)
        totals = Totals().add_records(await q.totals_of_closed(conn, operator.id, day)).as_dict()
        closed_at = self.clock.now()
        digest = hashlib.sha256()
        async for chunk in self._closed_csv(conn, operator, day, operator.currency, closed_at, totals):
            digest.update(chunk)
        return await q.insert_day(
            conn,
            operator.id,
            day,
            operator.currency,
            closed_at,
            digest.hexdigest(),
            journeys,
            len(adjustments),
            totals,
        )


def _noon(day: date, product: FareProduct) -> datetime:
    return datetime.combine(day, time(12), ZoneInfo(product.time_zone))


def _reference(product: FareProduct, user_id: str, month: date) -> str:
    """A rider month's reference in the operators' files: stable, and naming no rider."""
    digest = hashlib.sha256(f"{product.id}|{user_id}|{month.isoformat()}".encode()).hexdigest()
    return f"crd_{digest[:26]}"


def _parts(product: FareProduct, operator_id: str, spends: Sequence[tuple[str, str, int]]) -> dict[str, int]:
    """Each rider's credit for the month, the operator's part of it: split between the
    operators by their share of the rider's spend, largest remainders first (so the parts of
    all operators add up to the credit)."""
    by_rider: dict[str, dict[str, int]] = {}
    for user_id, operator, spend in spends:
        by_rider.setdefault(user_id, {})[operator] = spend
    out = {}
    for user_id, operators in by_rider.items():
        total = sum(operators.values())
        credit = product.value(total)
        if not credit or total <= 0:
            out[user_id] = 0
            continue
        floors = {o: credit * s // total for o, s in operators.items()}
        left = credit - sum(floors.values())
        by_remainder = sorted(operators, key=lambda o: (-(credit * operators[o] % total), o))
        for o in by_remainder[:left]:
            floors[o] += 1
        out[user_id] = floors.get(operator_id, 0)
    return out


def _credit_line(kind: LineKind, product: FareProduct, user_id: str, month: date, part: int) -> Line:
    return Line(
        kind=kind,
        journey_id=_reference(product, user_id, month),
        original_date=month,
        status="credit",
        category=product.id,
        entry_station=None,
        entry_at=None,
        exit_station=None,
        exit_at=None,
        base_fare=0,
        concession=0,
        discounts=((product.id, part),),
        fare=-part,
        share=-part,
        currency=product.currency,
        charge_status="pending",
        rider_amount=None,
        rider_currency=None,
        fx_rate=None,
    )


def _adjustment_lines(changes: Sequence[q.Change]) -> list[Line]:
    lines: list[Line] = []
    for change in changes:
        if change.settled is not None:
            lines.append(change.settled.reversed())
        lines.append(change.now)
    return lines


# -- the CSV ------------------------------------------------------------------------------------


def _csv(rows: Iterable[Sequence[Any]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


def _header(
    operator: Operator, day: date, currency: str, status: Status, closed_at: datetime | None
) -> bytes:
    return _csv(
        [
            [
                "# settlement",
                operator.id,
                day.isoformat(),
                currency,
                status,
                closed_at.astimezone(ZoneInfo(operator.info.time_zone)).isoformat() if closed_at else "",
            ],
            CSV_COLUMNS,
        ]
    )


def _local(at: datetime | None, zone: ZoneInfo) -> str:
    return at.astimezone(zone).isoformat() if at else ""


def _rows(lines: Iterable[Line], zone: ZoneInfo) -> bytes:
    return _csv(
        [
            line.kind,
            line.journey_id,
            line.original_date.isoformat(),
            line.status,
            line.category,
            line.entry_station or "",
            _local(line.entry_at, zone),
            line.exit_station or "",
            _local(line.exit_at, zone),
            line.base_fare,
            line.concession,
            ";".join(f"{product}:{amount}" for product, amount in line.discounts),
            line.fare,
            line.share,
            line.currency,
            line.charge_status,
            "" if line.rider_amount is None else line.rider_amount,
            line.rider_currency or "",
            "" if line.fx_rate is None else str(line.fx_rate),
        ]
        for line in lines
    )


def _footer(totals: dict[str, Any]) -> bytes:
    rows: list[list[Any]] = []
    for t in totals.get("fare", []):
        rows.append(["# total", "fare", t["currency"], t["charge_status"], *(t[k] for k in FARE_TOTAL_KEYS)])
    for t in totals.get("rider", []):
        rows.append(["# total", "rider", t["currency"], t["charge_status"], t["lines"], t["amount"]])
    return _csv(rows)


# -- cursors: opaque to callers; "c" pages a closed day by line number, "o" an open one ---------


def _encode(*parts: str) -> str:
    return base64.urlsafe_b64encode("|".join(parts).encode()).decode().rstrip("=")


def _cursor(cursor: str | None, expected: str) -> list[str] | None:
    if cursor is None:
        return None
    try:
        parts = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().split("|")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidInput({"cursor": ["not a cursor of this list"]}) from None
    if parts[0] not in ("c", "o"):
        raise InvalidInput({"cursor": ["not a cursor of this list"]})
    if parts[0] != expected:
        raise Conflict("settlement_cursor_stale")  # the day closed while it was being read
    return parts[1:]


def _int(text: str) -> int:
    """A position in a cursor: a plain count (int() would take "-1", "+1", " 1" and other scripts'
    digits, and a negative one slices a list from its end)."""
    if not (text.isascii() and text.isdigit()):
        raise InvalidInput({"cursor": ["not a cursor of this list"]})
    return int(text)


def _instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput({"cursor": ["not a cursor of this list"]}) from None
    if value.tzinfo is None:
        raise InvalidInput({"cursor": ["not a cursor of this list"]})
    return value
