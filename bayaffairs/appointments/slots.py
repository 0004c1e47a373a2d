"""Slots from a centre's rules: opening hours, closed days, the service's duration and desks.

Pure functions of the catalogue and a date, in the centre's time zone. A slot is the service's
duration long, back to back from each opening time; one that would run past closing is not
offered. Local times that do not exist (a DST spring-forward gap) give no slot, and a wall time
that happens twice (fall-back) gives the first one, so no slot is ever offered twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta

from bayaffairs.appointments.model import Centre, Service, Slot


def day_starts(centre: Centre, service: Service, day: date) -> Iterator[datetime]:
    """Slot starts (aware, in the centre's zone) on the centre's calendar day `day`."""
    if day in centre.closed_days or not centre.serves(service.id):
        return
    zone = centre.zone
    step = timedelta(minutes=service.duration_minutes)
    for opens, closes in centre.hours.get(day.weekday(), ()):
        wall = datetime.combine(day, opens)
        last = datetime.combine(day, closes)
        while wall + step <= last:
            local = wall.replace(tzinfo=zone, fold=0)
            # A wall time in a spring-forward gap does not survive the round trip through UTC.
            if local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall:
                yield local
            wall += step


def is_slot_start(centre: Centre, service: Service, start: datetime) -> bool:
    day = start.astimezone(centre.zone).date()
    return any(s == start for s in day_starts(centre, service, day))


def slots(
    centre: Centre,
    service: Service,
    first_day: date,
    last_day: date,
    remaining: Callable[[datetime, datetime], int] | None = None,
) -> list[Slot]:
    """Every slot from `first_day` to `last_day` (inclusive) with how many more could be booked;
    `remaining(start, end)` answers that from the desks' ledger (None: every desk is free)."""
    capacity = centre.capacity(service.id)
    duration = timedelta(minutes=service.duration_minutes)
    out = []
    day = first_day
    while day <= last_day:
        for start in day_starts(centre, service, day):
            at = start.astimezone(UTC)
            end = at + duration  # elapsed time, not wall time
            left = remaining(at, end) if remaining else capacity
            out.append(Slot(start, end.astimezone(centre.zone), capacity, left))
        day += timedelta(days=1)
    return out


def local_today(centre: Centre, now: datetime) -> date:
    return now.astimezone(centre.zone).date()


def window(service: Service, centre: Centre, now: datetime) -> tuple[date, date]:
    """The first and last calendar day (centre's) that may be booked now."""
    today = local_today(centre, now)
    return today + timedelta(days=service.min_days_ahead), today + timedelta(days=service.max_days_ahead)
