"""Blocking time: a desk, or the whole centre, closed for a time (staff training, a broken
machine, a typhoon signal).

A block is an occupant of the desks' ledger that nobody can move (`capacity.py`), so from the
moment it is written no booking, reschedule or walk-in takes its time, and the slot list shows
what is left. It is written under the locks of every centre day it spans, like a booking, so a
booking racing it either lands first (and is then among the appointments in the way) or sees it.

The appointments already in the way: on a closed desk, each is moved to another desk able to
serve it for its whole length where the ledger finds one (the rider notices nothing); those left
(every one, when the whole centre closes) stay booked, are listed in the answer for the staff, and
their riders are told, once, with a notice offering a reschedule (`notices.py`), sent before the
appointment's start or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bayaffairs.appointments import capacity, notices
from bayaffairs.appointments.catalogue import Catalogue
from bayaffairs.appointments.model import Appointment, Centre
from bayaffairs.clock import Clock
from bayaffairs.db.queries import appointments as q
from bayaffairs.errors import InvalidInput, NotFound
from bayaffairs.ids import new_id
from bayaffairs.storage import Connection, Database

MAX_DAYS = 31  # as the message says
FOREVER = timedelta(days=3660)


@dataclass(frozen=True)
class Blocked:
    block: q.Block
    affected: list[Appointment]  # still booked in the closed time; their riders are told
    moved: dict[str, str]  # appointment id -> the other desk it now holds


class CounterBlocks:
    def __init__(self, db: Database, clock: Clock, catalogue: Catalogue) -> None:
        self.db = db
        self.clock = clock
        self.catalogue = catalogue

    async def add(
        self, centre_id: str, counter_id: str | None, start: datetime, end: datetime, reason: str
    ) -> Blocked:
        centre = self.catalogue.centre(centre_id)
        if counter_id is not None and centre.counter(counter_id) is None:
            raise NotFound("counter_not_found")
        if end <= start:
            raise InvalidInput({"end": ["must be after start"]})
        if end - start > timedelta(days=MAX_DAYS):
            raise InvalidInput({"end": ["a block lasts at most 31 days"]})
        now = self.clock.now()
        if end <= now:
            raise InvalidInput({"end": ["the time has passed"]}, "block_in_past")
        first = start.astimezone(centre.zone).date()
        last = (end - timedelta(microseconds=1)).astimezone(centre.zone).date()
        days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        async with self.db.transaction() as conn:
            await q.lock_centre_days(conn, centre.id, days)
            block = await q.insert_block(
                conn,
                id=new_id("blk"),
                centre_id=centre.id,
                counter_id=counter_id,
                starts_at=start,
                ends_at=end,
                reason=reason,
                at=now,
            )
            affected: list[Appointment] = []
            moved: dict[str, str] = {}
            for appointment in await q.holding_between(conn, centre.id, counter_id, start, end):
                # Someone checked in or called keeps their desk (`capacity.FIXED`): listed instead.
                movable = counter_id is not None and appointment.status not in capacity.FIXED
                desk = await self._elsewhere(conn, centre, appointment, now) if movable else None
                if desk is not None:
                    moved[appointment.id] = desk
                    continue
                affected.append(appointment)
                await self._tell(conn, centre, block, appointment, now)
        return Blocked(block, affected, moved)

    async def _elsewhere(
        self, conn: Connection, centre: Centre, appointment: Appointment, now: datetime
    ) -> str | None:
        """Move the appointment to another desk free for its whole length (the block, written
        already, keeps it off its own); the desk, or None."""
        ledger = await capacity.day_ledger(conn, centre, appointment.local_date, now, leaving=appointment.id)
        found = ledger.place(appointment.service_id, appointment.start, appointment.end, appointment.id)
        if found is None:
            return None
        await q.move_desks(conn, {**found.moves, appointment.id: found.counter})
        return found.counter

    async def _tell(
        self, conn: Connection, centre: Centre, block: q.Block, appointment: Appointment, now: datetime
    ) -> None:
        agency = self.catalogue.agencies.get(appointment.agency_id)
        service = self.catalogue.services.get(appointment.service_id)
        if appointment.user_id is None or agency is None or service is None or appointment.start <= now:
            return
        await notices.tell(
            conn,
            appointment,
            "desk_closed",
            zone=centre.zone,
            notifier=agency.notifier,
            language=self.catalogue.notice_language(appointment),
            dedupe_key=f"desk_closed:{block.id}:{appointment.id}",
            now=now,
            block_id=block.id,
            service=service.name,
            centre=centre.name,
            reason=block.reason,
        )

    async def remove(self, centre_id: str, block_id: str) -> q.Block:
        async with self.db.transaction() as conn:
            block = await q.remove_block(conn, centre_id, block_id, self.clock.now())
        if block is None:
            raise NotFound("block_not_found")
        return block

    async def current(self, centre_id: str) -> list[q.Block]:
        """The centre's blocks not yet over, soonest first."""
        now = self.clock.now()
        async with self.db.acquire() as conn:
            return await q.blocks_between(conn, centre_id, now, now + FOREVER)
