"""Quotas per department and person: how many appointments one person may hold with one
department on a day and in a week (the remote counters' rule, shared/domain/gba.md section 4).

The person is identified by the applicant's document (its keyed fingerprint), not the account,
so one person booking from several accounts, or several people's accounts booking for one
person, share a quota. A service with a quota needs a document (400 `document_required`):
without one, every account would be a new person. A booking counts against every identity it
touches (`Identities`): the document's person, the holder's other own documents on the account
(one person's Macao ID and Home Return Permit are one person) and the account itself; the
quota counts the appointments that share any of them. The day is the centre's calendar day of
the appointment, the week that day's Monday to Sunday. Appointments count unless cancelled or
rescheduled (a served or missed one was still had).

A cancellation gives the quota back at once, but its desk stays held for the agency's
cancellation cooldown (booking.py), so without more one person could book and cancel service
after service at one time until every desk of that time was held, at every time of the day. So
until its hold ends a cancellation still counts for its person, by the same identities and
department (`check_holds`, 409 `cancellation_still_counts` with `until`): the person may not book
another time overlapping it at its centre (window `time`: a person never holds more desks at once
than the quota lets them book), nor have more such holds on a day or in a week than the quota
allows appointments (windows `day` and `week`: the person's booking and cancelling does not
spread to every time of the day). Another person, or this one once the hold ends, books as usual.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from bayaffairs.appointments.model import Centre, Service
from bayaffairs.db.queries import appointments as q
from bayaffairs.errors import Conflict
from bayaffairs.storage import Connection


class QuotaExceeded(Conflict):
    code = "quota_exceeded"


class CancellationStillCounts(Conflict):
    code = "cancellation_still_counts"


def applies(service: Service) -> bool:
    """Whether the service limits appointments per person (and so needs a document)."""
    return bool(service.quota_per_day or service.quota_per_week)


def _day_and_week(centre: Centre, start: datetime) -> tuple[date, date, date]:
    """The quota's windows for `start`: the centre's calendar day, and that day's Monday to Sunday."""
    day = start.astimezone(centre.zone).date()
    monday = day - timedelta(days=day.weekday())
    return day, monday, monday + timedelta(days=6)


def _exceeded(limit: int, window: str, first: date, last: date) -> QuotaExceeded:
    details = {"limit": limit, "window": window, "from": first.isoformat(), "to": last.isoformat()}
    return QuotaExceeded(details=details, limit=limit, window=window)


async def check(
    conn: Connection,
    centre: Centre,
    service: Service,
    person_keys: Sequence[str],
    start: datetime,
    *,
    leaving: str | None = None,
) -> None:
    """409 quota_exceeded when the person (everyone sharing one of `person_keys`) may not book
    one more at `start`; takes the persons' locks for the department, which the transaction
    holds to its end. `leaving` is a reschedule's old appointment, which no longer counts."""
    per_day, per_week = service.quota_per_day, service.quota_per_week
    if not applies(service):
        return
    day, monday, sunday = _day_and_week(centre, start)
    department = service.quota_department
    await q.lock_persons(conn, department, person_keys)
    held = await q.person_days(conn, department, person_keys, monday, sunday, leaving)
    if per_day and held.get(day, 0) >= per_day:
        raise _exceeded(per_day, "day", day, day)
    if per_week and sum(held.values()) >= per_week:
        raise _exceeded(per_week, "week", monday, sunday)


async def check_holds(
    conn: Connection,
    centre: Centre,
    service: Service,
    person_keys: Sequence[str],
    start: datetime,
    now: datetime,
) -> None:
    """409 cancellation_still_counts when a cancellation of the person's that still holds its
    desk keeps them from booking `start` (see the module's docstring). Call after `check`, in
    its transaction: the persons' locks it took keep two bookings of one person apart."""
    per_day, per_week = service.quota_per_day, service.quota_per_week
    if not applies(service):
        return
    day, monday, sunday = _day_and_week(centre, start)
    end = start + timedelta(minutes=service.duration_minutes)
    holds = await q.person_holds(conn, service.quota_department, person_keys, monday, sunday, now)
    overlapping = [h for h in holds if h.centre_id == centre.id and h.starts_at < end and start < h.ends_at]
    if overlapping:
        last = max(overlapping, key=lambda h: h.until)
        raise _still_counts(
            centre,
            last.until,
            window="time",
            **{"from": _local(centre, last.starts_at), "to": _local(centre, last.ends_at)},
        )
    for limit, window, first, final in ((per_day, "day", day, day), (per_week, "week", monday, sunday)):
        ends = sorted(h.until for h in holds if first <= h.local_date <= final)
        if limit and len(ends) >= limit:
            # One more booking once all but limit - 1 of them have ended.
            raise _still_counts(
                centre,
                ends[len(ends) - limit],
                window=window,
                limit=limit,
                **{"from": first.isoformat(), "to": final.isoformat()},
            )


def _local(centre: Centre, instant: datetime) -> str:
    return instant.astimezone(centre.zone).isoformat()


def _still_counts(centre: Centre, until: datetime, **details: object) -> CancellationStillCounts:
    when = _local(centre, until)
    return CancellationStillCounts(details={"until": when, **details}, until=when)
