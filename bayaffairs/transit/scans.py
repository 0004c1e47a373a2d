"""Online gate scans: verify the code, then record the tap durably before answering `open`.

Taps are committed in groups: each scan joins a queue, and one dispatcher hands what is waiting
(up to `scan_batch_max`) to a writer, which runs `record_scans()` in the database (decisions in
arrival order; the database's unique indexes settle races between workers and processes). Only
after COMMIT does any scan of the batch get its answer, so a gate that opened never loses its
tap, and one fsync serves many scans.

Batches must form for that to pay: while a batch is being written the next one collects, and a
second writer (up to `scan_writers`) starts only for a queue of `PARALLEL_AT` scans or more; an
idle writer facing a short queue lingers `LINGER_SECONDS` first. Measured on 2 vCPUs, four
writers that each took what was there wrote batches of one scan (bench/README.md).

Batches start on events, not by polling: a scan joining the queue, the linger running out, a
batch committed. When a batch commits, the scans that queued meanwhile go to the database
before the committed batch's answers are written, so the database works on the next batch
while this process answers gates (answering a batch of 30 takes a few milliseconds of CPU).

A tap-in whose fare is fixed when it happens (a flat bus fare: no tap-out, no transfer discount)
is priced before the batch is written and its journey inserted with the fare and the charge, so
a batch of those is one statement, committed on its own in one round trip. Other journeys are
priced from what `record_scans()` returns, in the same transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal

from bayaffairs.adapters.protocols import RIDER_CATEGORIES
from bayaffairs.clock import Clock
from bayaffairs.config.settings import RideCodeSettings
from bayaffairs.db.queries import journeys as q
from bayaffairs.errors import Conflict, DomainError, Forbidden, InvalidInput
from bayaffairs.fx import Converter, convert
from bayaffairs.ids import new_id
from bayaffairs.money import MINOR_UNITS, Money
from bayaffairs.storage import Connection, Database
from bayaffairs.transit import repricing
from bayaffairs.transit.codes import format as fmt
from bayaffairs.transit.codes.verify import DeviceKeyCache, Policy, Rejected, Verified, check
from bayaffairs.transit.journeys import Journeys, unfinished_quote
from bayaffairs.transit.keyring import RideCodeKeys
from bayaffairs.transit.model import (
    NO_PARTS,
    Direction,
    FareParts,
    FareQuote,
    PreviousLeg,
    ScanDecision,
    TapSource,
    Trip,
    UnknownStop,
)
from bayaffairs.transit.network import Network, Operator
from bayaffairs.transit.products import FareProducts

log = logging.getLogger("bayaffairs.scans")
LINGER_SECONDS = 0.001  # an idle writer waits this long for a short queue to grow
LINGER_BELOW = 16  # ... when fewer scans than this are waiting
PARALLEL_AT = 64  # a second writer starts only for a queue this long
# {wallet currency: {rider category: (charge, rate, rate source)}} of a tap-in priced in advance
Charges = dict[str, dict[str, tuple[int, str, str]]]
QueuedScan = tuple[q.ScanItem, "asyncio.Future[Decision]"]


@dataclass(frozen=True)
class Scan:
    operator: str
    gate_id: str
    station: str
    direction: Direction
    payload: str
    scanned_at: datetime
    tap_id: str | None = None  # the gate's own id of this tap (a retry names it again)


def gate_tap_key(operator: str, gate_id: str, tap_id: str) -> str:
    """`taps.tap_id` of an online scan its gate named: unique per gate (a tap id has no "|", an
    operator id neither, so the gate id between them is unambiguous)."""
    return f"{operator}|{gate_id}|{tap_id}"


def code_key_of(payload: str) -> str | None:
    try:
        return fmt.decode_text(payload).code_key
    except fmt.MalformedCode:
        return None


@dataclass(frozen=True)
class Decision:
    decision: ScanDecision
    reason: str | None = None
    journey_id: str | None = None
    fare: Money | None = None
    charge: Money | None = None

    @classmethod
    def deny(cls, reason: str | None) -> Decision:
        return cls("deny", reason)

    @classmethod
    def open(cls, journey_id: str, price: q.Price | None) -> Decision:
        """The gate opens; `price` is the fare (and charge) of a journey the tap completed."""
        if price is None:
            return cls("open", None, journey_id)
        fare = Money(price.fare_amount, price.fare_currency)
        if price.charge_amount is None or price.charge_currency is None:
            return cls("open", None, journey_id, fare)
        return cls("open", None, journey_id, fare, Money(price.charge_amount, price.charge_currency))


def _money(made: dict[tuple[int, str], Money], amount: int, currency: str) -> Money:
    """Money(amount, currency), the one in `made` if it is there (Money is immutable)."""
    money = made.get((amount, currency))
    if money is None:
        money = made[amount, currency] = Money(amount, currency)
    return money


def fixed_at_tap_in(operator: Operator) -> bool:
    """A journey that completes at tap-in and whose fare no previous leg changes."""
    pricing = getattr(operator.fares, "pricing", None)
    return not operator.rules.tap_out and pricing is not None and not pricing.transfers


def _by_rule(fare_rule: str | None) -> bool:
    """A fare set by a rule (no tap-in or tap-out, a late tap-out's surcharge), not by the trip."""
    return fare_rule is not None and fare_rule.startswith(("no tap-in", "no tap-out", "late tap-out"))


def _by_operator(journeys: list[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for operator, journey_id in journeys:
        out.setdefault(operator, []).append(journey_id)
    return out


def riders_of(verified: Verified) -> int:
    return getattr(verified.code, "riders", 1)


def group_refusal(operator: Operator, verified: Verified) -> str | None:
    """A group code (2-3 riders) is for operators whose fare is fixed at tap-in (one scan, one
    fare per rider); elsewhere the group would have to tap out together with one code."""
    if riders_of(verified) > 1 and not fixed_at_tap_in(operator):
        return "riders_not_accepted"
    return None


def for_riders(quote: FareQuote, adult: FareQuote, riders: int) -> FareQuote:
    """The fare of a group: the rider's own, and an adult fare for each companion."""
    if riders == 1:
        return quote
    amount = Money(quote.amount.amount + (riders - 1) * adult.amount.amount, quote.amount.currency)
    return replace(quote, amount=amount, rule=f"{quote.rule} x {riders} riders")


def split(items: list[q.ScanItem]) -> tuple[list[q.ScanItem], list[q.ScanItem]]:
    """(tap-ins priced in advance whose riders have no other tap in the batch, the rest: those
    are decided one after the other, each seeing what the one before wrote)."""
    seen: set[str] = set()
    looped = {i["account"] for i in items if "fares" not in i}
    for i in items:
        if i["account"] in seen:
            looped.add(i["account"])
        seen.add(i["account"])
    for i in items:
        if i.get("riders", 1) > 1:  # a group's double tap counts riders: record_scans() (0041)
            looped.add(i["account"])
    fixed = [i for i in items if "fares" in i and i["account"] not in looped]
    others = [i for i in items if "fares" not in i or i["account"] in looped]
    return fixed, others


@dataclass(frozen=True)
class Priced:
    fare: Money
    rule: str
    parts: FareParts = NO_PARTS  # how the fare came from the full fare
    share_weights: dict[str, int] | None = None  # a through journey split between operators


def price_row(
    network: Network, operator: Operator, row: q.ScanRow, station: str, direction: Direction
) -> Priced | None:
    """The fare of a journey that this scan (at `station`, a stop of `operator`) completed (None
    while it is still open). A journey entered at another operator of a through-fare rule, or
    any journey of a member, is priced by the rule, with the operators' weights in its revenue."""
    if row["journey_status"] != "completed":
        return None
    previous = (
        PreviousLeg(row["previous_operator"], row["previous_ended_at"])
        if row["previous_operator"] and row["previous_ended_at"]
        else None
    )
    category = row["category"]
    assert category is not None  # the rider of an open journey has a category
    if row["entry_station"] is None or row["entry_at"] is None:  # tap-out without tap-in: the rule
        quote = operator.fares.max_fare(station, category)
        return Priced(quote.amount, f"no tap-in: {quote.rule}", quote.parts)
    entered = row.get("journey_operator") or operator.id
    trip = Trip(
        entry_stop=row["entry_station"],
        exit_stop=station if direction == "out" else None,
        entered_at=row["entry_at"],
        category=category,
        previous=previous,
    )
    if entered not in network.operators:
        entered = operator.id
    quote, weights = network.fare(entered, operator.id, trip)
    return Priced(quote.amount, quote.rule, quote.parts, weights)


def late_fare(
    network: Network, operator: Operator, row: q.ScanRow, station: str, exited_at: datetime
) -> Priced:
    """The fare of a journey completed by a late tap-out at `station`: to the exit, plus the
    operator's overtime surcharge when it lasted longer than its maximum journey time."""
    priced = price_row(network, operator, row, station, "out")
    assert priced is not None and row["entry_at"] is not None  # a late tap-out completes an entry
    fare, rule = priced.fare, priced.rule
    surcharge = operator.rules.overtime_surcharge
    overran = exited_at - row["entry_at"] > timedelta(minutes=operator.rules.max_journey_minutes)
    if surcharge and overran:
        return replace(
            priced,
            fare=Money(fare.amount + surcharge, fare.currency),
            rule=f"late tap-out: {rule} + overtime surcharge",
        )
    return replace(priced, rule=f"late tap-out: {rule}")


class ScanService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        settings: RideCodeSettings,
        network: Network,
        keys: RideCodeKeys,
        converter: Converter,
        products: FareProducts,
    ) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings
        self.network = network
        self.keys = keys
        self.recorder = TapRecorder(
            network, converter, products, clock, settings.skew_seconds, late_days=settings.repair_days
        )
        self.journeys = Journeys(db, clock, network, converter)
        self.policy = Policy(settings.code_seconds, settings.skew_seconds)
        self.device_keys = DeviceKeyCache()
        self._queue: deque[QueuedScan] = deque()
        self._writing: set[asyncio.Task[None]] = set()  # batches being written
        self._linger: asyncio.TimerHandle | None = None
        self._stopped = False  # after stop(), scans still queue but no batch starts

    async def start(self) -> None:
        self._stopped = False

    async def stop(self) -> None:
        self._stopped = True
        if self._linger is not None:
            self._linger.cancel()
            self._linger = None
        tasks = list(self._writing)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def scan(self, scan: Scan) -> Decision:
        operator = self.network.operator(scan.operator)
        if operator is None:
            raise InvalidInput({"operator": ["unknown operator"]})
        if not operator.has_stop(scan.station):
            if self.network.owner_of(scan.station) is not None:
                raise Forbidden("out_of_scope", scope_kind="operator")  # a gate of another operator
            raise InvalidInput({"station": [f"{scan.station!r} is not a station or route of {operator.id}"]})
        if scan.direction == "out" and not operator.rules.tap_out:
            return Decision.deny("wrong_direction")
        tap_key = None if scan.tap_id is None else gate_tap_key(operator.id, scan.gate_id, scan.tap_id)
        try:
            verified = check(
                scan.payload,
                now=int(self.clock.now().timestamp()),
                keys=self.keys.kept_keyset() or await self.keys.keyset(),
                scope=operator.scope_codes,
                policy=self.policy,
                device_keys=self.device_keys,
            )
            refused = group_refusal(operator, verified)
        except Rejected as exc:
            # A retry after the code expired (or a key was revoked) still gets its first answer.
            again = None if tap_key is None else await self._again(tap_key, scan, code_key_of(scan.payload))
            return again or Decision.deny(exc.reason)
        if refused is not None:
            return Decision.deny(refused)
        item = self.recorder.item(
            # An online tap happens now, by our clock: a gate whose clock is wrong must not move a
            # journey to another day. The time a gate reports counts only for offline taps.
            operator,
            scan.gate_id,
            scan.station,
            scan.direction,
            verified,
            self.clock.now(),
            "online",
        )
        if tap_key is not None:
            item["tap_id"] = tap_key  # a second recording of this gate's tap conflicts on it
        future: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        self._kick()
        decision = await future
        if tap_key is not None and decision.decision == "deny":
            # The gate may be retrying a tap it had its answer to (then it is `replayed`, or an
            # `unfinished_journey` of the journey it opened): the first answer, not a refusal.
            return await self._again(tap_key, scan, verified.code_key) or decision
        return decision

    async def _again(self, tap_key: str, scan: Scan, code_key: str | None) -> Decision | None:
        """The first answer to the gate's tap `tap_key`, if it was recorded (raises
        tap_id_reused when that tap was another code, station or direction)."""
        async with self.db.acquire() as conn:
            tap = await q.gate_tap(conn, tap_key)
        if tap is None:
            return None
        if (tap["code_key"], tap["station"], tap["direction"]) != (code_key, scan.station, scan.direction):
            raise Conflict("tap_id_reused", details={"tap_id": scan.tap_id})
        journey_id = tap["journey_id"]
        if journey_id is None:
            return None
        # A tap-out, or a tap-in that completed its journey (a flat fare), answered with the fare.
        completed_here = tap["direction"] == "out" or (
            tap["journey_status"] == "completed" and tap["exit_station"] is None
        )
        fare_amount, fare_currency = tap["fare_amount"], tap["fare_currency"]
        if not completed_here or fare_amount is None or fare_currency is None:
            return Decision("open", None, journey_id)
        fare = Money(fare_amount, fare_currency)
        charge_amount, charge_currency = tap["charge_amount"], tap["charge_currency"]
        if charge_amount is None or charge_currency is None:
            return Decision("open", None, journey_id, fare)
        return Decision("open", None, journey_id, fare, Money(charge_amount, charge_currency))

    def _kick(self, *, lingered: bool = False) -> None:
        """Start a batch if one should start now (see the module docstring): with no batch being
        written, once `LINGER_BELOW` scans wait or the linger is over; beside one, for a queue of
        `PARALLEL_AT`; never more than `scan_writers` at once."""
        waiting = len(self._queue)
        if not waiting or self._stopped or len(self._writing) >= self.settings.scan_writers:
            return
        if self._writing:
            if waiting >= PARALLEL_AT:
                self._start_batch()
        elif lingered or waiting >= LINGER_BELOW:
            self._start_batch()
        elif self._linger is None:
            self._linger = asyncio.get_running_loop().call_later(LINGER_SECONDS, self._lingered)

    def _lingered(self) -> None:
        self._linger = None
        self._kick(lingered=True)

    def _start_batch(self) -> None:
        if self._linger is not None:
            self._linger.cancel()
            self._linger = None
        size = min(len(self._queue), self.settings.scan_batch_max)
        batch = [self._queue.popleft() for _ in range(size)]
        task = asyncio.create_task(self._write(batch))
        self._writing.add(task)
        task.add_done_callback(self._writing.discard)

    def _committed(self, task: asyncio.Task[None] | None) -> None:
        """A batch is done: the scans that queued while it was written start theirs now, without
        lingering (they have waited a batch already), before its answers are handed out."""
        if task is not None:
            self._writing.discard(task)
        self._kick(lingered=True)

    async def _write(self, batch: list[QueuedScan]) -> None:
        try:
            decisions = await self._commit([item for item, _ in batch])
        except Exception as exc:  # noqa: BLE001 - every waiting gate must get an answer
            log.warning("recording %d scans failed: %r", len(batch), exc)
            self._committed(asyncio.current_task())
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)  # the error middleware maps a database outage to 503
            return
        self._committed(asyncio.current_task())
        for (_, future), decision in zip(batch, decisions, strict=True):
            if not future.done():
                future.set_result(decision)

    async def _commit(self, items: list[q.ScanItem]) -> list[Decision]:
        decisions = await self._record(items)
        # A tap-in refused for an open journey already past its operator's maximum time (the
        # overdue job closes it within a minute): that journey blocks nothing, so close it now as
        # the job would and decide those tap-ins again. Off the common path: only refusals pay.
        held = [i for i, d in enumerate(decisions) if d.reason == "unfinished_journey"]
        if not held:
            return decisions
        accounts = sorted({bytes.fromhex(items[i]["account"]) for i in held})
        if await self.journeys.close_overdue_of(accounts):
            again = await self._record([{**items[i]} for i in held])  # fresh copies: idx is set again
            for i, decision in zip(held, again, strict=True):
                decisions[i] = decision
        return decisions

    async def _record(self, items: list[q.ScanItem]) -> list[Decision]:
        if await self.recorder.prepare(items):
            async with self.db.transaction() as conn:
                return await self.recorder.record(conn, items)
        # Every journey is priced in the statement, which commits on its own before it answers.
        async with self.db.acquire() as conn:
            return await self.recorder.record(conn, items)


class TapRecorder:
    """Records taps through record_scans() and prices the journeys they complete, inside the
    caller's transaction (online scans and offline uploads alike)."""

    def __init__(
        self,
        network: Network,
        converter: Converter,
        products: FareProducts,
        clock: Clock,
        skew_seconds: int = 300,
        *,
        late_days: int | None = None,
    ) -> None:
        self.network = network
        # a tap-out completes a journey closed as unfinished only if scanned this long after its
        # entry (repair_days; 0043_late_tap_out_limit.sql); None: no limit
        self.late_days = late_days
        self.converter = converter
        self.products = products
        self.clock = clock
        self._charges: dict[tuple[int, str, str, Decimal], int] = {}
        self._charge_sets: dict[tuple[object, ...], Charges] = {}
        # Fares of tap-ins priced in advance by (operator, stop, riders, minute of boarding): the
        # same for every batch of that minute (a batch of ~15 scans priced five rider categories
        # each time). Rates are asked per batch: the charges follow them.
        self._quotes: dict[
            tuple[str, str, int, int],
            tuple[dict[str, FareQuote], dict[str, tuple[int, str, int]]] | None,
        ] = {}
        self.skew_seconds = skew_seconds
        # {operator: (operators with a transfer discount from it, the longest transfer window)}
        self._transfers_from: dict[str, tuple[list[str], timedelta]] = {}
        for to in network.operators.values():
            for transfer in getattr(getattr(to.fares, "pricing", None), "transfers", ()):
                for source in transfer.from_operators:
                    targets, within = self._transfers_from.get(source, ([], timedelta(0)))
                    if to.id not in targets:
                        targets.append(to.id)
                    self._transfers_from[source] = (targets, max(within, transfer.within))

    def item(
        self,
        operator: Operator,
        gate_id: str,
        station: str,
        direction: Direction,
        verified: Verified,
        scanned_at: datetime,
        source: TapSource,
        *,
        tap_id: str | None = None,
    ) -> q.ScanItem:
        """`tap_id`: the tap's id when it has one already (an upload's), else a new one."""
        item: q.ScanItem = {
            "tap_id": tap_id or new_id("tap"),
            "journey_id": new_id("jny"),
            "operator": operator.id,
            "gate_id": gate_id,
            "station": station,
            "direction": direction,
            "code_key": verified.code_key,
            "account": verified.account.hex(),
            "credential": verified.credential_id.hex() if verified.credential_id else None,
            "scanned_at": scanned_at.isoformat(),
            "source": source,
            "tap_out": operator.rules.tap_out,
            "orphan_exit": operator.rules.tap_out_without_tap_in,
            "double_tap": operator.rules.double_tap_seconds,  # with tap-out: a second entry
            "riders": riders_of(verified),
            "skew": self.skew_seconds,
        }
        if direction == "out" and self.late_days is not None:
            item["late_days"] = self.late_days
        if operator.partners and direction == "out":
            item["partners"] = list(operator.partners)
        return item

    async def prepare(self, items: list[q.ScanItem]) -> bool:
        """Give the tap-ins whose fare is fixed already their fares and charges (so the journey is
        written once, priced); True unless recording is one statement (the caller then records
        in a transaction): a journey to price after recording, or taps of both kinds."""
        now = self.clock.now()
        rates: dict[tuple[str, str], tuple[Decimal, str] | None] = {}
        # Taps with the same operator, stop, riders and minute of scan get the same fares: priced
        # once a call (a batch of online scans is mostly one minute; uploaded taps come hundreds a
        # second in a backlog), shared read-only. A fare reads the time of boarding to the minute
        # at most (fares/time_of_day.py; time zones are whole minutes from UTC).
        priced: dict[
            tuple[str, str, int, int], tuple[dict[str, tuple[int, str, int]], str, Charges] | None
        ] = {}
        later = False
        for item in items:
            if "fares" in item:
                continue
            operator = self.network.operators[item["operator"]]
            if item["direction"] != "in" or not fixed_at_tap_in(operator):
                later = True
                continue
            riders = item.get("riders", 1)
            entered_at = datetime.fromisoformat(item["scanned_at"])
            key = (operator.id, item["station"], riders, int(entered_at.timestamp()) // 60)
            if key not in priced:
                priced[key] = await self._fixed_fares(
                    operator, item["station"], riders, entered_at, rates, now
                )
            found = priced[key]
            if found is None:
                later = True  # an unknown stop: logged when it is priced after recording
                continue
            item["fares"], item["currency"], item["charges"] = found
        return later or bool(split(items)[1])

    async def _fixed_fares(
        self,
        operator: Operator,
        station: str,
        riders: int,
        entered_at: datetime,
        rates: dict[tuple[str, str], tuple[Decimal, str] | None],
        now: datetime,
    ) -> tuple[dict[str, tuple[int, str, int]], str, Charges] | None:
        """({category: (fare, rule, concession)}, currency, charges) of a tap-in at `station`;
        None for a stop without a fare."""
        key = (operator.id, station, riders, int(entered_at.timestamp()) // 60)
        if key in self._quotes:
            found = self._quotes[key]
        else:
            found = self._quotes[key] = self._quote(operator, station, riders, entered_at)
            if len(self._quotes) > 4096:
                self._quotes.clear()
        if found is None:
            return None
        quotes, fares = found
        return fares, operator.currency, await self._charges_for(quotes, operator.currency, rates, now)

    def _quote(
        self, operator: Operator, station: str, riders: int, entered_at: datetime
    ) -> tuple[dict[str, FareQuote], dict[str, tuple[int, str, int]]] | None:
        """(quotes, {category: (fare, rule, concession)}) of a tap-in; None for a stop without a fare."""
        try:
            quotes = {
                category: operator.fares.fare(Trip(station, None, entered_at, category))
                for category in RIDER_CATEGORIES
            }
            concessions = {c: quote.parts.concession for c, quote in quotes.items()}
            quotes = {c: for_riders(quote, quotes["adult"], riders) for c, quote in quotes.items()}
        except UnknownStop:
            return None
        return quotes, {c: (quote.amount.amount, quote.rule, concessions[c]) for c, quote in quotes.items()}

    async def _charges_for(
        self,
        quotes: dict[str, FareQuote],
        currency: str,
        rates: dict[tuple[str, str], tuple[Decimal, str] | None],
        now: datetime,
    ) -> Charges:
        """{wallet currency: {category: (charge, rate, source)}}; a wallet currency without a
        rate is left out (its journeys keep the fare, and the charge is converted later).
        Shared by every tap-in with the same fares and rates (read only: it is written as JSON)."""
        found_rates = []
        for wallet in MINOR_UNITS:
            if (currency, wallet) not in rates:
                rates[currency, wallet] = await self._rate(currency, wallet, now)
            found_rates.append(rates[currency, wallet])
        key = (currency, tuple((c, quote.amount.amount) for c, quote in quotes.items()), tuple(found_rates))
        charges = self._charge_sets.get(key)
        if charges is not None:
            return charges
        charges = {}
        for wallet, found in zip(MINOR_UNITS, found_rates, strict=True):
            if found is None:
                continue
            rate, source = found
            charges[wallet] = {
                c: (self._convert(quote.amount.amount, currency, wallet, rate), str(rate), source)
                for c, quote in quotes.items()
            }
        if len(self._charge_sets) > 1024:
            self._charge_sets.clear()
        self._charge_sets[key] = charges
        return charges

    async def _rate(self, base: str, quote: str, now: datetime) -> tuple[Decimal, str] | None:
        try:
            fx = await self.converter.rate(base, quote, now)
        except (DomainError, LookupError) as exc:
            log.warning("no %s/%s rate (%r); fares kept, charges deferred", base, quote, exc)
            return None
        return fx.rate, fx.source

    def _convert(self, amount: int, base: str, quote: str, rate: Decimal) -> int:
        key = (amount, base, quote, rate)
        converted = self._charges.get(key)
        if converted is None:
            if len(self._charges) > 4096:
                self._charges.clear()
            converted = self._charges[key] = convert(amount, base, quote, rate)
        return converted

    async def record(self, conn: Connection, items: list[q.ScanItem]) -> list[Decision]:
        """Decisions in the order of `items`. Tap-ins priced in advance are written set-wise, unless
        their rider also has other taps in the batch; the rest go through record_scans() one by
        one, ordered by account, so that two batches in flight lock journeys in the same order
        and cannot deadlock each other. Call in a transaction when `prepare()` said so."""
        await self.prepare(items)
        for index, item in enumerate(items):
            item["idx"] = index
        fixed, others = split(items)
        rows = await q.record_fixed_tap_ins(conn, fixed) if fixed else []
        if others:
            rows += await q.record_scans(conn, sorted(others, key=lambda i: (i["account"], i["idx"])))
        rows.sort(key=lambda r: r["idx"])
        prices: list[q.Price] = []
        concessions: list[tuple[str, int]] = []  # of journeys record_scans() wrote priced
        by_function = {i["idx"] for i in others}  # (the fixed statement writes them itself)
        decisions: list[Decision] = []
        # The fares and charges of journeys priced as inserted, made once a batch: its taps mostly
        # share a few (~6 µs a tap for a Price and two Money the gate's answer was made from).
        monies: dict[tuple[int, str], Money] = {}
        for item, row in zip(items, rows, strict=True):
            journey_id = row["journey_id"]
            if row["decision"] == "wait":  # an uploaded exit whose entry is not here yet
                decisions.append(Decision("wait", row["reason"]))
                continue
            if row["decision"] != "open" or journey_id is None:  # an open tap names its journey
                decisions.append(Decision.deny(row["reason"]))
                continue
            if row["reason"] == "double_tap":  # let through on the journey already paid
                decisions.append(Decision("open", "double_tap", journey_id))
                continue
            if row["fare_amount"] is not None and row["fare_currency"] is not None:  # priced as inserted
                fares, category = item.get("fares"), row["category"]
                if (
                    fares
                    and category in fares
                    and fares[category][2]
                    and item["idx"] in by_function
                    and row["fare_amount"] == fares[category][0]  # not a group's top-up (0041)
                ):
                    concessions.append((journey_id, fares[category][2]))
                fare = _money(monies, row["fare_amount"], row["fare_currency"])
                charge_amount, charge_currency = row["charge_amount"], row["charge_currency"]
                charge = (
                    None
                    if charge_amount is None or charge_currency is None
                    else _money(monies, charge_amount, charge_currency)
                )
                decisions.append(Decision("open", None, journey_id, fare, charge))  # as Decision.open
                continue
            elif row["journey_status"] == "unfinished":  # an uploaded entry the rider has entered since
                price = await self._price_unfinished(self.network.operators[item["operator"]], row)
                if price is not None:
                    prices.append(price)
            elif row["late"]:
                # The journey it completes may be one an earlier item of this batch recorded
                # closed (its entry, uploaded with it): that price is written first, so the
                # late tap-out reprices from it, not the other way round.
                await q.set_prices(conn, prices)
                prices.clear()
                operator = self.network.operators[item["operator"]]
                decisions.append(await self._complete_late(conn, operator, journey_id, row, item))
                continue
            else:
                operator = self.network.operators[item["operator"]]
                price = await self._price(operator, journey_id, row, item["station"], item["direction"])
                if price is not None:
                    prices.append(price)
            decisions.append(Decision.open(journey_id, price))
        await q.set_prices(conn, prices)
        await q.set_concessions(conn, concessions)  # in the caller's transaction: see prepare()
        uploaded = [
            (item["operator"], d.journey_id)
            for item, d in zip(items, decisions, strict=True)
            if item["source"] == "offline" and d.decision == "open" and d.journey_id is not None
        ]
        if uploaded:
            await self._discount_later_legs(conn, uploaded)
        return decisions

    async def _discount_later_legs(self, conn: Connection, uploaded: list[tuple[str, str]]) -> None:
        """An uploaded leg may be the previous leg of a journey priced before it reached us (its
        gate was offline): price that journey again with the transfer discount it qualifies for
        (a journey charged already gets the difference back; one whose day closed is adjusted
        in the next day to close). Uploads record in a transaction, so this is part of it."""
        for source, journey_ids in _by_operator(uploaded).items():
            transfers = self._transfers_from.get(source)
            if transfers is None:
                continue
            targets, within = transfers
            for leg in await q.later_legs(conn, journey_ids, targets, within.total_seconds()):
                journey = leg.journey
                operator = self.network.operators[journey.operator]
                if journey.entry_station is None or journey.entry_at is None or _by_rule(journey.fare_rule):
                    continue  # priced by a rule, not a trip between stops: no transfer applies
                previous = PreviousLeg(leg.previous_operator, leg.previous_ended_at)
                try:
                    # a member of a through-fare rule: priced (and split) by the rule, whichever
                    # member's gate it left by
                    quote, weights = self.network.fare(
                        operator.id,
                        operator.id,
                        Trip(
                            journey.entry_station,
                            journey.exit_station,
                            journey.entry_at,
                            journey.category,
                            previous,
                        ),
                    )
                except (UnknownStop, ValueError):
                    continue  # priced by a rule (no fare between its stops): no transfer applies
                if (
                    not quote.discounts
                    or journey.fare_amount is None
                    or quote.amount.amount >= journey.fare_amount
                ):
                    continue
                await repricing.reprice(
                    conn,
                    journey,
                    quote.amount,
                    f"{quote.rule} (transfer from an earlier leg uploaded later)",
                    converter=self.converter,
                    products=self.products,
                    now=self.clock.now(),
                    reason="transfer discount",
                    parts=quote.parts,
                    share_weights=weights,
                )

    async def _price_unfinished(self, operator: Operator, row: q.ScanRow) -> q.Price | None:
        """An entry recorded closed (0041): priced at the operator's rule, as the overdue job does."""
        journey_id, category = row["journey_id"], row["category"]
        assert journey_id is not None and category is not None and row["entry_station"] is not None
        assert row["entry_at"] is not None
        try:
            quote = unfinished_quote(operator, row["entry_station"], row["entry_at"], category)
        except UnknownStop:
            log.error("journey %s: a stop of %s has no fare", journey_id, operator.id)
            return None
        return await self._priced(
            journey_id, quote.amount, f"no tap-out: {quote.rule}", row["wallet_currency"], quote.parts
        )

    async def _complete_late(
        self, conn: Connection, operator: Operator, journey_id: str, row: q.ScanRow, item: q.ScanItem
    ) -> Decision:
        """A tap-out after its journey was closed as unfinished, or an uploaded entry whose exit
        was priced without it (an online tap-out before the entry's gate uploaded: 0041): the
        fare from entry to exit (plus the operator's overtime surcharge when the journey overran),
        the difference to what was charged given back (bayaffairs/transit/repricing.py)."""
        journey = await q.get(conn, journey_id)
        if row["journey_status"] != "completed" or journey is None:
            return Decision.open(journey_id, None)  # repaired meanwhile: the repair's fare stands
        assert journey.exit_station is not None and journey.exit_at is not None  # completed by a tap-out
        try:
            priced = late_fare(self.network, operator, row, journey.exit_station, journey.exit_at)
        except UnknownStop:
            log.error("journey %s: a stop of %s has no fare", journey_id, operator.id)
            return Decision.open(journey_id, None)
        rule, reason = priced.rule, "late tap-out"
        if item["direction"] == "in":  # the entry of an exit priced without it
            rule, reason = rule.replace("late tap-out", "entry uploaded"), "entry uploaded"
        done = await repricing.reprice(
            conn,
            journey,
            priced.fare,
            rule,
            converter=self.converter,
            products=self.products,
            now=self.clock.now(),
            reason=reason,
            parts=priced.parts,
            share_weights=priced.share_weights,
        )
        return Decision("open", None, journey_id, done.fare, done.charge)

    async def _price(
        self, operator: Operator, journey_id: str, row: q.ScanRow, station: str, direction: Direction
    ) -> q.Price | None:
        try:
            priced = price_row(self.network, operator, row, station, direction)
        except UnknownStop:
            log.error("journey %s: a stop of %s has no fare", journey_id, operator.id)
            return None
        if priced is None:
            return None
        fare, rule, parts, weights = priced.fare, priced.rule, priced.parts, priced.share_weights
        return await self._priced(journey_id, fare, rule, row["wallet_currency"], parts, weights)

    async def _priced(
        self,
        journey_id: str,
        fare: Money,
        rule: str,
        wallet: str | None,
        parts: FareParts = NO_PARTS,
        weights: dict[str, int] | None = None,
    ) -> q.Price:
        return await repricing.priced_in_wallet(
            self.converter,
            journey_id,
            fare,
            rule,
            wallet,
            self.clock.now(),
            parts=parts,
            share_weights=weights,
        )
