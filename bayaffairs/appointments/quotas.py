"""Quotas per department and person: how many appointments one person may hold with one
department on a day and in a week (the remote counters' rule, shared/domain/gba.md section 4).

The person is identified by the applicant's document (its keyed fingerprint), not the account,
so one person booking from several accounts, or several people's accounts booking for one
person, share a quota; without a document the account stands for its holder. The day is the
centre's calendar day of the appointment, the week that day's Monday to Sunday. Appointments
count unless cancelled or rescheduled (a served or missed one was still had).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from bayaffairs.appointments.model import Centre, Service
from bayaffairs.db.queries import appointments as q
from bayaffairs.errors import Conflict
from bayaffairs.storage import Connection


class QuotaExceeded(Conflict):
    code = "quota_exceeded"


def _exceeded(limit: int, window: str, first: date, last: date) -> QuotaExceeded:
    details = {"limit": limit, "window": window, "from": first.isoformat(), "to": last.isoformat()}
    return QuotaExceeded(details=details, limit=limit, window=window)


async def check(
    conn: Connection,
    centre: Centre,
    service: Service,
    person_key: str,
    start: datetime,
    *,
    leaving: str | None = None,
) -> None:
    """409 quota_exceeded when the person may not book one more at `start`; takes the person's
    lock for the department, which the transaction holds to its end. `leaving` is a reschedule's
    old appointment, which no longer counts."""
    per_day, per_week = service.quota_per_day, service.quota_per_week
    if not per_day and not per_week:
        return
    day = start.astimezone(centre.zone).date()
    monday = day - timedelta(days=day.weekday())
    sunday = monday + timedelta(days=6)
    department = service.quota_department
    await q.lock_person(conn, department, person_key)
    held = await q.person_days(conn, department, person_key, monday, sunday, leaving)
    if per_day and held.get(day, 0) >= per_day:
        raise _exceeded(per_day, "day", day, day)
    if per_week and sum(held.values()) >= per_week:
        raise _exceeded(per_week, "week", monday, sunday)
