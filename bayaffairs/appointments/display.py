"""The hall display of a service centre: the numbers called recently and to which desk.

A screen in the hall polls it every few seconds with its ETag, so the common answer is a 304
after one indexed read, or none while the worker keeps the centre's number (`ChangeNumbers`): the
ETag is the centre's change number, which every check-in, call, recall and outcome moves. The
screen shows queue numbers and desks only, never a name or a reference: it is read with a
`display` credential that can do nothing else, or a counter's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from bayaffairs.appointments.catalogue import Catalogue
from bayaffairs.appointments.changes import ChangeNumbers
from bayaffairs.appointments.slots import local_today
from bayaffairs.clock import Clock
from bayaffairs.db.queries import appointments as q
from bayaffairs.i18n import Text
from bayaffairs.storage import Database

RECENT = 10  # calls shown, newest first


@dataclass(frozen=True)
class Call:
    queue_number: int
    counter: str
    called_at: datetime  # in the centre's zone
    status: str  # called, served, no_show
    call_count: int


@dataclass(frozen=True)
class DeskState:
    """A desk and the last number it called today (None: it has called nobody yet)."""

    counter: str
    call: Call | None


@dataclass(frozen=True)
class Display:
    centre_id: str
    centre_name: Text
    date: date
    time_zone: str
    desks: list[DeskState]
    recent: list[Call]
    waiting: int


class HallDisplay:
    def __init__(self, db: Database, clock: Clock, catalogue: Catalogue, changes: ChangeNumbers) -> None:
        self.db = db
        self.clock = clock
        self.catalogue = catalogue
        self.changes = changes

    def today(self, centre_id: str) -> date:
        return local_today(self.catalogue.centre(centre_id), self.clock.now())

    async def change(self, centre_id: str) -> int:
        """The centre's change number: read before `show`, it never claims a newer state."""
        return await self.changes.current(centre_id)

    async def show(self, centre_id: str) -> Display:
        centre = self.catalogue.centre(centre_id)
        zone = centre.zone
        day = self.today(centre_id)
        async with self.db.acquire() as conn:
            recent, latest, waiting = await q.display_calls(conn, centre_id, day, RECENT)

        def call(row: q.CallRow) -> Call:
            number, counter, called_at, status, count = row
            return Call(number, counter, called_at.astimezone(zone), status, count)

        by_desk = {row[1]: call(row) for row in latest}
        return Display(
            centre_id=centre.id,
            centre_name=centre.name,
            date=day,
            time_zone=centre.time_zone,
            desks=[DeskState(c.id, by_desk.get(c.id)) for c in centre.counters],
            recent=[call(row) for row in recent],
            waiting=waiting,
        )
