"""Which desk (counter) holds which appointment: capacity is counted per desk, not per service.

A desk serves one person at a time, whatever the service, and services last different times, so
a slot's capacity is not a number per service: it is whether the new appointment can be given a
desk that serves its service and is free for its whole length. Every appointment that holds
capacity is assigned a desk (`appointments.counter_id`; a database exclusion constraint refuses
two on one desk at overlapping times), and blocks close a desk, or every desk, for a time.

`place` finds a desk for a new appointment. When every able desk is taken it tries to make room
by moving appointments already placed to other desks able to serve them (an augmenting path, at
most `MAX_DEPTH` moves deep): a commercial registration sitting on the only desk that does
trademarks moves to another commercial desk, rather than the trademark booking being refused.
The moves are only the ledger: the queue still calls people to whichever able desk is free.
Nobody checked in or called is moved (`FIXED`): they are in the hall or at their desk, so the
ledger keeps them where they are and the feasibility check counts them as fixed, like a block.

The same function answers the slot list (`remaining`), so a slot shown as free can be booked.
The ledger is pure; `take_desk` runs it on the day's holdings under the centre-day lock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta

from bayaffairs.appointments.model import Centre, Service
from bayaffairs.db.queries import appointments as q
from bayaffairs.errors import Conflict
from bayaffairs.storage import Connection

MAX_DEPTH = 3


@dataclass(frozen=True)
class Occupant:
    """Something that takes a desk for a time: an appointment (movable to another desk serving
    `service_id`), one that is `fixed` (checked in or called: the person is in the hall or at
    the desk, so the ledger keeps them where they are), or a block (`service_id` None: fixed)."""

    key: str
    counter: str
    start: datetime
    end: datetime
    service_id: str | None = None
    fixed: bool = False

    @property
    def movable(self) -> bool:
        return self.service_id is not None and not self.fixed


@dataclass(frozen=True)
class Placement:
    counter: str
    moves: Mapping[str, str] = field(default_factory=dict)  # occupant key -> its new desk


class Ledger:
    """The desks of one centre and what occupies them (on one day, or a few)."""

    def __init__(self, centre: Centre, occupants: Iterable[Occupant]) -> None:
        self.centre = centre
        self.occupants = {o.key: o for o in occupants}
        # Desks able to serve each service, the most specialised first: a booking takes the desk
        # fewest other services need, keeping versatile desks free for longer.
        self._able: dict[str, list[str]] = {}
        order = sorted(centre.counters, key=lambda c: len(c.services))
        for counter in order:
            for service_id in counter.services:
                self._able.setdefault(service_id, []).append(counter.id)

    def able(self, service_id: str) -> list[str]:
        return self._able.get(service_id, [])

    def place(
        self, service_id: str, start: datetime, end: datetime, key: str = "new", *, only: str | None = None
    ) -> Placement | None:
        """A desk for a new appointment `key` of `service_id` from `start` to `end` (the desk
        `only` when given), with the moves of other appointments that make room for it; None when
        there is none."""
        assign = {k: o.counter for k, o in self.occupants.items()}
        new = Occupant(key, "", start, end, service_id)
        everyone = {**self.occupants, key: new}
        for counter in self.able(service_id):
            if only is not None and counter != only:
                continue
            found = _fit(self, everyone, new, counter, assign, MAX_DEPTH, frozenset({key}))
            if found is not None:
                moves = {k: c for k, c in found.items() if k != key and assign.get(k) != c}
                return Placement(counter, moves)
        return None

    def add(self, occupant: Occupant, moves: Mapping[str, str] | None = None) -> None:
        """Record a placement (for the next `place` on this ledger)."""
        for k, counter in (moves or {}).items():
            self.occupants[k] = replace(self.occupants[k], counter=counter)
        self.occupants[occupant.key] = occupant

    def remaining(self, service_id: str, start: datetime, end: datetime) -> int:
        """How many more appointments of `service_id` could start at `start` now (at most one per
        able desk). Leaves the ledger as it was."""
        saved = dict(self.occupants)
        try:
            count = 0
            while count < len(self.able(service_id)):
                key = f"remaining-{count}"
                found = self.place(service_id, start, end, key)
                if found is None:
                    break
                self.add(Occupant(key, found.counter, start, end, service_id), found.moves)
                count += 1
            return count
        finally:
            self.occupants = saved


def _fit(
    ledger: Ledger,
    everyone: Mapping[str, Occupant],
    occupant: Occupant,
    counter: str,
    assign: Mapping[str, str],
    depth: int,
    pinned: frozenset[str],
) -> dict[str, str] | None:
    """`assign` with `occupant` on `counter` and whatever was in its way moved elsewhere, or None.
    `pinned` occupants stay where they are (the new one, and those being moved)."""
    placed = {**assign, occupant.key: counter}
    in_way = [
        o
        for k, o in everyone.items()
        if k != occupant.key
        and placed.get(k) == counter
        and o.start < occupant.end
        and occupant.start < o.end
    ]
    for other in in_way:
        if placed.get(other.key) != counter:
            continue  # a deeper move already took it elsewhere
        if depth == 0 or not other.movable or other.key in pinned:
            return None
        pinned = pinned | {other.key}
        moved = None
        for target in ledger.able(other.service_id or ""):
            if target != counter:
                moved = _fit(ledger, everyone, other, target, placed, depth - 1, pinned)
                if moved is not None:
                    break
        if moved is None:
            return None
        placed = moved
    return placed


def overlaps(occupants: Sequence[Occupant]) -> list[tuple[str, str]]:
    """Pairs of occupants on one desk at overlapping times (a valid ledger has none)."""
    found = []
    by_desk: dict[str, list[Occupant]] = {}
    for o in occupants:
        by_desk.setdefault(o.counter, []).append(o)
    for items in by_desk.values():
        items.sort(key=lambda o: o.start)
        for i, a in enumerate(items):
            for b in items[i + 1 :]:
                if b.start >= a.end:
                    break
                found.append((a.key, b.key))
    return found


# -- against the database ------------------------------------------------------------------------


FIXED = ("checked_in", "called")  # statuses whose desk no placement moves
AT_A_DESK = ("called",)  # ... and the only one a call may not move (see `day_ledger`)


def _occupant(h: q.Holding, fixed: Sequence[str] = FIXED) -> Occupant:
    return Occupant(h.id, h.counter_id, h.starts_at, h.ends_at, h.service_id, h.status in fixed)


def block_occupants(centre: Centre, block: q.Block) -> list[Occupant]:
    """A block takes its desk, or every desk of the centre, for its time; nobody moves it."""
    desks = [block.counter_id] if block.counter_id else [c.id for c in centre.counters]
    return [Occupant(f"block:{block.id}:{d}", d, block.starts_at, block.ends_at) for d in desks]


def day_bounds(centre: Centre, first: date, last: date) -> tuple[datetime, datetime]:
    """From the start of `first` to the end of `last`, in the centre's zone."""
    zone = centre.zone
    return (
        datetime.combine(first, time(0), tzinfo=zone),
        datetime.combine(last + timedelta(days=1), time(0), tzinfo=zone),
    )


async def ledgers(
    conn: Connection, centre: Centre, first: date, last: date, now: datetime
) -> dict[date, Ledger]:
    """One ledger per centre day from `first` to `last` that has anything on its desks (a day
    missing from the answer has every desk free)."""
    by_day: dict[date, list[Occupant]] = {}
    for h in await q.holdings(conn, centre.id, first, last, now):
        by_day.setdefault(h.local_date, []).append(_occupant(h))
    for block in await q.blocks_between(conn, centre.id, *day_bounds(centre, first, last)):
        day = max(first, block.starts_at.astimezone(centre.zone).date())
        end = min(last, block.ends_at.astimezone(centre.zone).date())
        while day <= end:
            by_day.setdefault(day, []).extend(block_occupants(centre, block))
            day += timedelta(days=1)
    return {day: Ledger(centre, occupants) for day, occupants in by_day.items()}


async def day_ledger(
    conn: Connection,
    centre: Centre,
    day: date,
    now: datetime,
    *,
    leaving: str | None = None,
    fixed: Sequence[str] = FIXED,
) -> Ledger:
    """The day's ledger for placing on it: takes the centre-day lock (held to the end of the
    transaction) and clears the day's ended cancellation holds first. `leaving` gives up its desk.
    Appointments in a `fixed` status stay on their desks; a call passes `AT_A_DESK`, as the call is
    when the hall's desks are really given out: the called person takes the calling desk's time
    from someone still waiting, who is seated later by their own call."""
    await q.lock_centre_days(conn, centre.id, [day])
    await q.release_expired_holds(conn, centre.id, day, now)
    holding = await q.holdings(conn, centre.id, day, day, now)
    occupants = [_occupant(h, fixed) for h in holding if h.id != leaving]
    for block in await q.blocks_between(conn, centre.id, *day_bounds(centre, day, day)):
        occupants.extend(block_occupants(centre, block))
    return Ledger(centre, occupants)


async def take_desk(
    conn: Connection,
    centre: Centre,
    service: Service,
    start: datetime,
    now: datetime,
    *,
    leaving: str | None = None,
) -> str:
    """The desk for a new appointment of `service` at `start` (409 slot_full when none can be
    found), after moving others between desks if that makes room. `leaving` is an appointment
    that gives up its desk in the same transaction (a reschedule's old one). Takes the
    centre-day lock, which the transaction holds to its end."""
    day = start.astimezone(centre.zone).date()
    end = start + timedelta(minutes=service.duration_minutes)
    ledger = await day_ledger(conn, centre, day, now, leaving=leaving)
    found = ledger.place(service.id, start, end)
    if found is None:
        raise Conflict("slot_full")
    if found.moves:
        await q.move_desks(conn, found.moves)
    return found.counter


async def gap(
    conn: Connection, centre: Centre, counter: str, candidates: Sequence[tuple[str, str, int]], now: datetime
) -> str | None:
    """The first of `candidates` (key, service id, minutes) that desk `counter` can serve from
    `now` for its length without taking time the ledger gives to anyone else (after moving others
    between desks if that makes room); its key, or None. Takes the centre-day lock."""
    ledger = await day_ledger(conn, centre, now.astimezone(centre.zone).date(), now)
    for key, service_id, minutes in candidates:
        found = ledger.place(service_id, now, now + timedelta(minutes=minutes), key, only=counter)
        if found is not None:
            if found.moves:
                await q.move_desks(conn, found.moves)
            return key
    return None
