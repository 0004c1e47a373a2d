"""Appointments, slot capacity counters, the per-centre change sequence and the queue."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from bayaffairs.appointments.model import Appointment, DayRow
from bayaffairs.storage import Connection, Record, returned

_COLUMNS = (
    "id, reference, user_id, agency_id, centre_id, service_id, starts_at AS start, ends_at AS end,"
    " local_date, counter_id, status, document_id, holder_name, number_masked, qr_version, rescheduled_from,"
    " rescheduled_to, queue_number, checked_in_at, call_count, called_at, called_by, finished_at,"
    " created_at, updated_at, change_seq, walk_in, cancel_reason, language"
)
_ACTIVE = "('booked', 'checked_in', 'called')"


def _row(record: Record) -> Appointment:
    """Positional: _COLUMNS is in the dataclass's field order (a centre-day is thousands of rows,
    and building a dict per row cost more than the query)."""
    return Appointment(*record)


async def lock_centre_days(conn: Connection, centre_id: str, days: Sequence[date]) -> None:
    """Serialise everything that places appointments on a centre's desks on these days, for the
    rest of the transaction; in date order, so two lockers of the same days never deadlock."""
    for day in sorted(set(days)):
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended('desks|' || $1 || '|' || $2, 0))",
            centre_id,
            day.isoformat(),
        )


@dataclass(frozen=True)
class Holding:
    """An appointment holding a desk for a time (active, or cooling down after cancellation)."""

    id: str
    service_id: str
    counter_id: str
    starts_at: datetime
    ends_at: datetime
    local_date: date
    status: str


async def holdings(conn: Connection, centre_id: str, first: date, last: date, now: datetime) -> list[Holding]:
    """What holds the centre's desks on the days `first` to `last`; cancellation holds count
    until they end, even before a booker clears them. A walk-in waiting holds no desk."""
    records = await conn.fetch(
        f"""
        SELECT id, service_id, counter_id, starts_at, ends_at, local_date, status FROM appointments
        WHERE centre_id = $1 AND local_date BETWEEN $2 AND $3
          AND (status IN {_ACTIVE} OR seat_held_until IS NOT NULL)
          AND (status IN {_ACTIVE} OR seat_held_until > $4)
          AND counter_id IS NOT NULL
        """,
        centre_id,
        first,
        last,
        now,
    )
    return [Holding(*r) for r in records]


async def release_expired_holds(conn: Connection, centre_id: str, day: date, now: datetime) -> int:
    """Clear the cancellation holds of the day that have ended, so their desks take bookings
    again (call under the centre-day lock); how many."""
    return int(
        await conn.fetchval(
            """
            WITH freed AS (
                UPDATE appointments SET seat_held_until = NULL
                WHERE centre_id = $1 AND local_date = $2 AND seat_held_until <= $3
                RETURNING 1)
            SELECT count(*) FROM freed
            """,
            centre_id,
            day,
            now,
        )
    )


async def move_desks(conn: Connection, moves: Mapping[str, str]) -> None:
    """Give appointments other desks (appointment id -> desk), all in one statement."""
    await conn.execute(
        """
        UPDATE appointments a SET counter_id = m.counter_id
        FROM unnest($1::text[], $2::text[]) AS m(id, counter_id) WHERE a.id = m.id
        """,
        list(moves),
        list(moves.values()),
    )


async def own_hold(
    conn: Connection, user_id: str, centre_id: str, service_id: str, starts_at: datetime, now: datetime
) -> datetime | None:
    """When the cooldown of this rider's own cancellation of the slot ends, if it has not."""
    held_until: datetime | None = await conn.fetchval(
        """
        SELECT max(seat_held_until) FROM appointments
        WHERE user_id = $1 AND centre_id = $2 AND service_id = $3 AND starts_at = $4
          AND seat_held_until > $5
        """,
        user_id,
        centre_id,
        service_id,
        starts_at,
        now,
    )
    return held_until


async def lock_rider(conn: Connection, user_id: str) -> None:
    """Serialise one rider's bookings (per-rider caps) for the rest of the transaction."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('appointments|' || $1, 0))", user_id)


async def active_count(conn: Connection, user_id: str, service_id: str) -> int:
    count: int = await conn.fetchval(
        f"SELECT count(*) FROM appointments WHERE user_id = $1 AND service_id = $2 AND status IN {_ACTIVE}",
        user_id,
        service_id,
    )
    return count


async def next_change(conn: Connection, centre_id: str) -> int:
    """The centre's next change number. The row stays locked until commit, so the numbers of a
    centre commit in the order they are handed out."""
    seq: int = await conn.fetchval(
        """
        INSERT INTO appointment_centre_changes AS c (centre_id, seq) VALUES ($1, 1)
        ON CONFLICT (centre_id) DO UPDATE SET seq = c.seq + 1
        RETURNING seq
        """,
        centre_id,
    )
    return seq


NextChange = Callable[[Connection, str], Awaitable[int]]  # next_change, or ChangeNumbers.next


async def renumber(conn: Connection, ids: Sequence[str], take: NextChange | None = None) -> None:
    """Give these appointments (rows the caller has locked or written in its transaction) a new
    change number of their centre, one per centre: whatever changed in them without one (a name
    scrubbed by erasure or retention) reaches the counters, whose cached day, ETag and `since`
    pull all go by the change number. `take`: how to take a number (`ChangeNumbers.next`, so
    this worker's kept numbers see it at once; default `next_change`)."""
    centres = [
        r["centre_id"]
        for r in await conn.fetch(
            "SELECT DISTINCT centre_id FROM appointments WHERE id = ANY($1::text[]) ORDER BY centre_id",
            list(ids),
        )
    ]
    numbers = [await (take or next_change)(conn, centre) for centre in centres]
    await conn.execute(
        """
        UPDATE appointments a SET change_seq = m.seq
        FROM unnest($2::text[], $3::bigint[]) AS m(centre_id, seq)
        WHERE a.id = ANY($1::text[]) AND a.centre_id = m.centre_id
        """,
        list(ids),
        centres,
        numbers,
    )


async def current_change(conn: Connection, centre_id: str) -> int:
    seq = await conn.fetchval("SELECT seq FROM appointment_centre_changes WHERE centre_id = $1", centre_id)
    return int(seq or 0)


async def insert(conn: Connection, **values: Any) -> Appointment:
    names = list(values)
    record = await conn.fetchrow(
        f"""
        INSERT INTO appointments ({", ".join(names)})
        VALUES ({", ".join(f"${i + 1}" for i in range(len(names)))})
        RETURNING {_COLUMNS}
        """,
        *values.values(),
    )
    return _row(returned(record))


async def reference_taken(conn: Connection, reference: str) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM appointments WHERE reference = $1", reference))


async def get(conn: Connection, appointment_id: str, *, lock: bool = False) -> Appointment | None:
    record = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM appointments WHERE id = $1{' FOR UPDATE' if lock else ''}", appointment_id
    )
    return _row(record) if record else None


async def get_by_reference(conn: Connection, centre_id: str, reference: str) -> Appointment | None:
    record = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM appointments WHERE centre_id = $1 AND reference = $2", centre_id, reference
    )
    return _row(record) if record else None


async def list_for_user(
    conn: Connection, user_id: str, *, after: str | None, limit: int
) -> list[Appointment]:
    records = await conn.fetch(
        f"""
        SELECT {_COLUMNS} FROM appointments
        WHERE user_id = $1 AND ($2::text IS NULL OR id < $2)
        ORDER BY id DESC LIMIT $3
        """,
        user_id,
        after,
        limit,
    )
    return [_row(r) for r in records]


async def update(conn: Connection, appointment_id: str, **values: Any) -> Appointment:
    names = list(values)
    sets = ", ".join(f"{name} = ${i + 2}" for i, name in enumerate(names))
    record = await conn.fetchrow(
        f"UPDATE appointments SET {sets} WHERE id = $1 RETURNING {_COLUMNS}",
        appointment_id,
        *values.values(),
    )
    return _row(returned(record))


# What a counter's day view shows, in DayRow's order (bayaffairs.appointments.model).
_DAY_COLUMNS = (
    "id, reference, service_id, starts_at, ends_at, status, holder_name, number_masked, queue_number,"
    " call_count, called_by, walk_in, change_seq"
)


async def centre_day(conn: Connection, centre_id: str, day: date, since: int) -> list[DayRow]:
    """The day's appointments changed after `since`: only the columns the counter sees, as
    positional rows (a centre-day is thousands of rows; the full rows cost three times as much
    to read and never reach the counter)."""
    records = await conn.fetch(
        f"""
        SELECT {_DAY_COLUMNS} FROM appointments
        WHERE centre_id = $1 AND local_date = $2 AND change_seq > $3
        ORDER BY starts_at, id
        """,
        centre_id,
        day,
        since,
    )
    return [tuple(r) for r in records]


async def next_queue_number(conn: Connection, centre_id: str, day: date) -> int:
    number: int = await conn.fetchval(
        """
        INSERT INTO appointment_queue_numbers AS q (centre_id, local_date, last_number) VALUES ($1, $2, 1)
        ON CONFLICT (centre_id, local_date) DO UPDATE SET last_number = q.last_number + 1
        RETURNING last_number
        """,
        centre_id,
        day,
    )
    return number


async def pick_next_waiting(
    conn: Connection,
    centre_id: str,
    day: date,
    services: Sequence[str],
    now: datetime,
    early: timedelta,
    grace: timedelta,
) -> Appointment | None:
    """The checked-in person with an appointment first in the queue for these services: by
    appointment time, from `early` before it; those who checked in more than `grace` after their
    time come after everyone on time, in the order they arrived. Rows another counter is calling
    right now are skipped, never waited for. Walk-ins are not in this queue (`waiting_walk_ins`)."""
    record = await conn.fetchrow(
        f"""
        SELECT {_COLUMNS} FROM appointments
        WHERE centre_id = $1 AND local_date = $2 AND status = 'checked_in' AND service_id = ANY($3::text[])
          AND NOT walk_in AND starts_at <= $4::timestamptz + $5::interval
        ORDER BY checked_in_at > starts_at + $6::interval,
                 CASE WHEN checked_in_at > starts_at + $6::interval THEN checked_in_at ELSE starts_at END,
                 queue_number
        LIMIT 1 FOR UPDATE SKIP LOCKED
        """,
        centre_id,
        day,
        list(services),
        now,
        early,
        grace,
    )
    return _row(record) if record else None


async def waiting_walk_ins(
    conn: Connection, centre_id: str, day: date, services: Sequence[str], limit: int
) -> list[Appointment]:
    """The walk-ins waiting for these services, first come first; locked, skipping those another
    counter is calling."""
    records = await conn.fetch(
        f"""
        SELECT {_COLUMNS} FROM appointments
        WHERE centre_id = $1 AND local_date = $2 AND status = 'checked_in' AND service_id = ANY($3::text[])
          AND walk_in
        ORDER BY queue_number
        LIMIT $4 FOR UPDATE SKIP LOCKED
        """,
        centre_id,
        day,
        list(services),
        limit,
    )
    return [_row(r) for r in records]


async def claim_due_reminders(conn: Connection, now: datetime, limit: int) -> list[Appointment]:
    """Mark due reminders as reminded and return them: a row is claimed by one worker only (call
    in the transaction that writes their notices)."""
    records = await conn.fetch(
        f"""
        UPDATE appointments SET reminded_at = $1
        WHERE id IN (
            SELECT id FROM appointments
            WHERE reminded_at IS NULL AND status = 'booked' AND remind_at <= $1
            ORDER BY remind_at LIMIT $2 FOR UPDATE SKIP LOCKED)
          AND reminded_at IS NULL
        RETURNING {_COLUMNS}
        """,
        now,
        limit,
    )
    return [_row(r) for r in records]


# One call as a hall display shows it: queue number, counter, called at, status, call count.
CallRow = tuple[int, str, datetime, str, int]


async def display_calls(
    conn: Connection, centre_id: str, day: date, recent: int
) -> tuple[list[CallRow], list[CallRow], int]:
    """The day's `recent` latest calls (newest first), each counter's latest call, and how many
    checked-in people wait: what a hall screen shows, in one round trip."""
    records = await conn.fetch(
        """
        SELECT 'recent' AS part, queue_number, called_by, called_at, status, call_count FROM (
            SELECT * FROM appointments
            WHERE centre_id = $1 AND local_date = $2 AND called_at IS NOT NULL
            ORDER BY called_at DESC, queue_number DESC LIMIT $3) r
        UNION ALL
        SELECT 'desk', queue_number, called_by, called_at, status, call_count FROM (
            SELECT DISTINCT ON (called_by) * FROM appointments
            WHERE centre_id = $1 AND local_date = $2 AND called_at IS NOT NULL
            ORDER BY called_by, called_at DESC, queue_number DESC) d
        UNION ALL
        SELECT 'waiting', count(*)::int, NULL, NULL, NULL, NULL FROM appointments
        WHERE centre_id = $1 AND local_date = $2 AND status = 'checked_in'
        """,
        centre_id,
        day,
        recent,
    )
    calls: dict[str, list[CallRow]] = {"recent": [], "desk": []}
    waiting = 0
    for r in records:
        if r["part"] == "waiting":
            waiting = r["queue_number"]
        else:
            calls[r["part"]].append(
                (r["queue_number"], r["called_by"], r["called_at"], r["status"], r["call_count"])
            )
    calls["recent"].sort(key=lambda c: (c[2], c[0]), reverse=True)  # UNION ALL keeps no order
    return calls["recent"], calls["desk"], waiting


async def person_key_of(conn: Connection, appointment_id: str) -> str | None:
    """Whose appointment it is: the keyed fingerprint of the document booked with (`doc:`)."""
    value: str | None = await conn.fetchval(
        "SELECT person_key FROM appointments WHERE id = $1", appointment_id
    )
    return value


async def document_mismatches(conn: Connection, appointment_id: str) -> int:
    """How often a typed document did not match this appointment's (`document_mismatch`)."""
    value: int = await conn.fetchval(
        "SELECT document_mismatches FROM appointments WHERE id = $1", appointment_id
    )
    return value


async def count_document_mismatch(conn: Connection, appointment_id: str, cap: int) -> int | None:
    """One more mismatch, in one conditional statement: the new count, or None when the count
    had already reached `cap` (so concurrent mismatches never pass it, whatever else is locked)."""
    value: int | None = await conn.fetchval(
        """
        UPDATE appointments SET document_mismatches = document_mismatches + 1
        WHERE id = $1 AND document_mismatches < $2
        RETURNING document_mismatches
        """,
        appointment_id,
        cap,
    )
    return value


async def lock_persons(conn: Connection, department: str, person_keys: Sequence[str]) -> None:
    """Serialise the bookings with one department (their quota) of everyone sharing one of
    `person_keys`, for the transaction. Sorted, so two bookers sharing keys cannot deadlock."""
    for key in sorted(set(person_keys)):
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended('quota|' || $1 || '|' || $2, 0))",
            department,
            key,
        )


async def person_days(
    conn: Connection,
    department: str,
    person_keys: Sequence[str],
    first: date,
    last: date,
    leaving: str | None,
) -> dict[date, int]:
    """How many appointments (not cancelled or rescheduled) sharing one of `person_keys` the
    department has on each day from `first` to `last`, leaving out `leaving` (a reschedule's
    old one)."""
    records = await conn.fetch(
        """
        SELECT local_date, count(*) AS n FROM appointments
        WHERE person_keys && $2::text[] AND department = $1 AND local_date BETWEEN $3 AND $4
          AND status NOT IN ('cancelled', 'rescheduled') AND id IS DISTINCT FROM $5
        GROUP BY local_date
        """,
        department,
        list(person_keys),
        first,
        last,
        leaving,
    )
    return {r["local_date"]: r["n"] for r in records}


@dataclass(frozen=True)
class PersonHold:
    """A cancellation of the person's that still holds its desk, until `until`."""

    centre_id: str
    starts_at: datetime
    ends_at: datetime
    local_date: date
    until: datetime


async def person_holds(
    conn: Connection,
    department: str,
    person_keys: Sequence[str],
    first: date,
    last: date,
    now: datetime,
) -> list[PersonHold]:
    """The department's cancellations sharing one of `person_keys` on the days `first` to `last`
    whose desk is still held at `now` (a hold counts until it ends, even before a booker clears
    it)."""
    records = await conn.fetch(
        """
        SELECT centre_id, starts_at, ends_at, local_date, seat_held_until FROM appointments
        WHERE person_keys && $2::text[] AND seat_held_until > $5 AND department = $1
          AND local_date BETWEEN $3 AND $4
        """,
        department,
        list(person_keys),
        first,
        last,
        now,
    )
    return [PersonHold(*r) for r in records]


@dataclass(frozen=True)
class Block:
    """A desk (`counter_id`), or the whole centre (None), closed from `starts_at` to `ends_at`."""

    id: str
    centre_id: str
    counter_id: str | None
    starts_at: datetime
    ends_at: datetime
    reason: str
    created_at: datetime
    removed_at: datetime | None


_BLOCK_COLUMNS = "id, centre_id, counter_id, starts_at, ends_at, reason, created_at, removed_at"


async def insert_block(
    conn: Connection,
    *,
    id: str,
    centre_id: str,
    counter_id: str | None,
    starts_at: datetime,
    ends_at: datetime,
    reason: str,
    at: datetime,
) -> Block:
    record = await conn.fetchrow(
        f"""
        INSERT INTO counter_blocks (id, centre_id, counter_id, starts_at, ends_at, reason, created_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {_BLOCK_COLUMNS}
        """,
        id,
        centre_id,
        counter_id,
        starts_at,
        ends_at,
        reason,
        at,
    )
    return Block(*returned(record))


async def blocks_between(conn: Connection, centre_id: str, start: datetime, end: datetime) -> list[Block]:
    """The centre's blocks (not removed) overlapping `start` to `end`."""
    records = await conn.fetch(
        f"""
        SELECT {_BLOCK_COLUMNS} FROM counter_blocks
        WHERE centre_id = $1 AND removed_at IS NULL AND starts_at < $3 AND ends_at > $2
        ORDER BY starts_at, id
        """,
        centre_id,
        start,
        end,
    )
    return [Block(*r) for r in records]


async def remove_block(conn: Connection, centre_id: str, block_id: str, at: datetime) -> Block | None:
    """Remove the centre's block (again: the same answer); None when it has no such block."""
    record = await conn.fetchrow(
        f"""
        UPDATE counter_blocks SET removed_at = coalesce(removed_at, $3)
        WHERE id = $1 AND centre_id = $2 RETURNING {_BLOCK_COLUMNS}
        """,
        block_id,
        centre_id,
        at,
    )
    return Block(*record) if record else None


async def holding_between(
    conn: Connection, centre_id: str, counter_id: str | None, start: datetime, end: datetime
) -> list[Appointment]:
    """The active appointments on the desk (every desk when None) overlapping `start` to `end`."""
    records = await conn.fetch(
        f"""
        SELECT {_COLUMNS} FROM appointments
        WHERE centre_id = $1 AND status IN {_ACTIVE} AND counter_id IS NOT NULL
          AND ($2::text IS NULL OR counter_id = $2) AND starts_at < $4 AND ends_at > $3
        ORDER BY starts_at, id
        """,
        centre_id,
        counter_id,
        start,
        end,
    )
    return [_row(r) for r in records]


async def set_desk(conn: Connection, appointment_id: str, counter_id: str) -> None:
    await conn.execute("UPDATE appointments SET counter_id = $2 WHERE id = $1", appointment_id, counter_id)
