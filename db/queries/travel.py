"""Departures and seats: materialising timetables, searching, holding and releasing seats.

Seats are counted per departure and fare class in `travel_inventory`; every change is one
conditional UPDATE, so two requests never both take the last seat (and the table's CHECK
`held + sold <= capacity` refuses it if code ever tried).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from bayaffairs.storage import Connection, Record


@dataclass(frozen=True)
class DepartureRow:
    id: str
    carrier: str
    route: str
    mode: str
    origin: str
    destination: str
    service_date: date
    departs_at: datetime
    arrives_at: datetime
    currency: str
    classes: list[dict[str, Any]]  # [{fare_class, capacity, held, sold, fare_amount}]
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    withdrawn_at: datetime | None = None  # gone from the carrier's timetable: off sale


@dataclass(frozen=True)
class NewDeparture:
    id: str
    carrier: str
    route: str
    mode: str
    origin: str
    destination: str
    service_date: date
    departs_at: datetime
    arrives_at: datetime
    currency: str
    classes: Sequence[tuple[str, int, int]]  # (fare class, capacity, fare amount)


_SELECT = """
    SELECT d.id, d.carrier, d.route, d.mode, d.origin, d.destination, d.service_date,
        d.departs_at, d.arrives_at, d.currency,
        coalesce((SELECT json_agg(json_build_object('fare_class', i.fare_class,
                'capacity', i.capacity, 'held', i.held, 'sold', i.sold,
                'fare_amount', i.fare_amount) ORDER BY i.fare_class)
            FROM travel_inventory i WHERE i.departure_id = d.id), '[]'::json)::text AS classes,
        d.cancelled_at, d.cancel_reason, d.withdrawn_at
    FROM travel_departures d
"""


def _departure(record: Record) -> DepartureRow:
    data = dict(record)
    data["classes"] = json.loads(data["classes"])
    return DepartureRow(**data)


async def insert_departures(conn: Connection, departures: Sequence[NewDeparture]) -> int:
    """Insert departures and their seats; those already there are left as they are."""
    if not departures:
        return 0
    inserted = await conn.fetchval(
        """
        WITH new AS (
            INSERT INTO travel_departures (id, carrier, route, mode, origin, destination,
                service_date, departs_at, arrives_at, currency)
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                $6::text[], $7::date[], $8::timestamptz[], $9::timestamptz[], $10::text[])
            ON CONFLICT (id) DO NOTHING
            RETURNING 1
        )
        SELECT count(*) FROM new
        """,
        [d.id for d in departures],
        [d.carrier for d in departures],
        [d.route for d in departures],
        [d.mode for d in departures],
        [d.origin for d in departures],
        [d.destination for d in departures],
        [d.service_date for d in departures],
        [d.departs_at for d in departures],
        [d.arrives_at for d in departures],
        [d.currency for d in departures],
    )
    seats = [(d.id, c, cap, fare) for d in departures for c, cap, fare in d.classes]
    await conn.execute(
        """
        INSERT INTO travel_inventory (departure_id, fare_class, capacity, fare_amount)
        SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::int[])
        ON CONFLICT (departure_id, fare_class) DO NOTHING
        """,
        [s[0] for s in seats],
        [s[1] for s in seats],
        [s[2] for s in seats],
        [s[3] for s in seats],
    )
    return int(inserted or 0)


@dataclass(frozen=True)
class MaterialisedDeparture:
    """A departure already in the database, as a new timetable is compared with it."""

    id: str
    route: str
    origin: str
    destination: str
    service_date: date
    departs_at: datetime
    arrives_at: datetime
    withdrawn_at: datetime | None
    schedule_change: dict[str, Any] | None
    classes: tuple[tuple[str, int, int], ...]  # (fare class, capacity, fare amount), by fare class


async def materialised(conn: Connection, carrier: str, after: datetime) -> list[MaterialisedDeparture]:
    """The carrier's departures leaving after `after` that it has not cancelled."""
    records = await conn.fetch(
        """
        SELECT d.id, d.route, d.origin, d.destination, d.service_date, d.departs_at, d.arrives_at,
            d.withdrawn_at, d.schedule_change,
            coalesce(array_agg(i.fare_class ORDER BY i.fare_class)
                FILTER (WHERE i.fare_class IS NOT NULL), '{}') AS fare_classes,
            coalesce(array_agg(i.capacity ORDER BY i.fare_class)
                FILTER (WHERE i.fare_class IS NOT NULL), '{}') AS capacities,
            coalesce(array_agg(i.fare_amount ORDER BY i.fare_class)
                FILTER (WHERE i.fare_class IS NOT NULL), '{}') AS fare_amounts
        FROM travel_departures d LEFT JOIN travel_inventory i ON i.departure_id = d.id
        WHERE d.carrier = $1 AND d.departs_at > $2 AND d.cancelled_at IS NULL
        GROUP BY d.id
        """,
        carrier,
        after,
    )
    return [
        MaterialisedDeparture(
            id=r["id"],
            route=r["route"],
            origin=r["origin"],
            destination=r["destination"],
            service_date=r["service_date"],
            departs_at=r["departs_at"],
            arrives_at=r["arrives_at"],
            withdrawn_at=r["withdrawn_at"],
            schedule_change=r["schedule_change"],
            classes=tuple(zip(r["fare_classes"], r["capacities"], r["fare_amounts"], strict=True)),
        )
        for r in records
    ]


async def lock_sales(conn: Connection, departure_id: str) -> int | None:
    """Lock the departure's seat rows (fare class order, as holds do), then its row (as a
    cancellation does), and count its seats held or sold; None when it is gone or cancelled."""
    records = await conn.fetch(
        """
        SELECT held + sold AS taken FROM travel_inventory
        WHERE departure_id = $1 ORDER BY fare_class FOR UPDATE
        """,
        departure_id,
    )
    found = await conn.fetchval(
        "SELECT 1 FROM travel_departures WHERE id = $1 AND cancelled_at IS NULL FOR UPDATE", departure_id
    )
    if found is None:
        return None
    return sum(int(r["taken"]) for r in records)


async def delete_unbooked(conn: Connection, departure_id: str) -> bool:
    """Delete a departure (and its seats) that no booking ever named; False when one did."""
    result = await conn.execute(
        """
        DELETE FROM travel_departures d WHERE d.id = $1
          AND NOT EXISTS (SELECT 1 FROM travel_bookings b WHERE b.departure_id = d.id)
          AND NOT EXISTS (SELECT 1 FROM travel_bookings b WHERE b.moved_from = d.id)
        """,
        departure_id,
    )
    return result.split()[-1] != "0"


async def withdraw(conn: Connection, departure_id: str, change: dict[str, Any] | None, at: datetime) -> None:
    """Take the departure off sale (it left the timetable), with what its riders are told."""
    await conn.execute(
        """
        UPDATE travel_departures SET withdrawn_at = coalesce(withdrawn_at, $3),
            schedule_changed_at = CASE WHEN schedule_change IS DISTINCT FROM $2::jsonb THEN $3
                ELSE schedule_changed_at END,
            schedule_change = $2::jsonb
        WHERE id = $1
        """,
        departure_id,
        change,
        at,
    )


async def retime(
    conn: Connection, departure: NewDeparture, change: dict[str, Any] | None, at: datetime
) -> None:
    """Give the departure the timetable's times, fares and seats (back on sale if it was off):
    fare classes nobody holds a seat of go when the timetable drops them; a class's capacity
    never falls below the seats held and sold."""
    await conn.execute(
        """
        UPDATE travel_departures SET origin = $2, destination = $3, service_date = $4,
            departs_at = $5, arrives_at = $6, withdrawn_at = NULL,
            schedule_changed_at = CASE WHEN schedule_change IS DISTINCT FROM $7::jsonb THEN $8
                ELSE schedule_changed_at END,
            schedule_change = $7::jsonb
        WHERE id = $1
        """,
        departure.id,
        departure.origin,
        departure.destination,
        departure.service_date,
        departure.departs_at,
        departure.arrives_at,
        change,
        at,
    )
    await conn.execute(
        """
        DELETE FROM travel_inventory
        WHERE departure_id = $1 AND NOT (fare_class = ANY($2::text[])) AND held = 0 AND sold = 0
        """,
        departure.id,
        [c for c, _, _ in departure.classes],
    )
    await conn.execute(
        """
        INSERT INTO travel_inventory AS i (departure_id, fare_class, capacity, fare_amount)
        SELECT $1, * FROM unnest($2::text[], $3::int[], $4::int[])
        ON CONFLICT (departure_id, fare_class) DO UPDATE
        SET capacity = greatest(excluded.capacity, i.held + i.sold), fare_amount = excluded.fare_amount
        """,
        departure.id,
        [c for c, _, _ in departure.classes],
        [cap for _, cap, _ in departure.classes],
        [fare for _, _, fare in departure.classes],
    )


async def schedule_changes(conn: Connection, departure_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """What changed for the riders of these departures (those with a change only), with when."""
    records = await conn.fetch(
        """
        SELECT id, schedule_change AS change, schedule_changed_at FROM travel_departures
        WHERE id = ANY($1::text[]) AND schedule_change IS NOT NULL
        """,
        list(set(departure_ids)),
    )
    return {r["id"]: {**r["change"], "changed_at": r["schedule_changed_at"].isoformat()} for r in records}


@dataclass(frozen=True)
class StaticDeparture:
    """What never changes once a departure is materialised: all of it but the seats."""

    id: str
    carrier: str
    route: str
    mode: str
    origin: str
    destination: str
    departs_at: datetime
    arrives_at: datetime
    currency: str
    classes: tuple[tuple[str, int], ...]  # (fare class, fare amount), by fare class


async def search_seats(
    conn: Connection,
    *,
    origin: str | None,
    destination: str | None,
    mode: str | None,
    carriers: Sequence[str],
    after: datetime,
    before: datetime,
    cursor: str | None,
    limit: int,
) -> list[tuple[str, dict[str, int]]]:
    """Like `search`, but only each departure's id and free seats per fare class: the part
    of a search that changes (the rest is `static_departures`, cached by the caller)."""
    records = await conn.fetch(
        """
        SELECT d.id, i.fare_class, i.capacity - i.sold - i.held AS free
        FROM (
            SELECT id, departs_at FROM travel_departures
            WHERE departs_at >= $1 AND departs_at < $2 AND cancelled_at IS NULL AND withdrawn_at IS NULL
              AND ($3::text IS NULL OR origin = $3)
              AND ($4::text IS NULL OR destination = $4)
              AND ($5::text IS NULL OR mode = $5)
              AND carrier = ANY($6::text[])
              AND ($7::text IS NULL OR (departs_at, id) >
                   (SELECT c.departs_at, c.id FROM travel_departures c WHERE c.id = $7))
            ORDER BY departs_at, id
            LIMIT $8
        ) d
        LEFT JOIN travel_inventory i ON i.departure_id = d.id
        ORDER BY d.departs_at, d.id
        """,
        after,
        before,
        origin,
        destination,
        mode,
        list(carriers),
        cursor,
        limit,
    )
    out: list[tuple[str, dict[str, int]]] = []
    for r in records:
        if not out or out[-1][0] != r[0]:
            out.append((r[0], {}))
        if r[1] is not None:
            out[-1][1][r[1]] = r[2]
    return out


async def static_departures(conn: Connection, ids: Sequence[str]) -> list[StaticDeparture]:
    records = await conn.fetch(
        """
        SELECT d.id, d.carrier, d.route, d.mode, d.origin, d.destination, d.departs_at,
            d.arrives_at, d.currency,
            coalesce(array_agg(i.fare_class ORDER BY i.fare_class)
                FILTER (WHERE i.fare_class IS NOT NULL), '{}') AS fare_classes,
            coalesce(array_agg(i.fare_amount ORDER BY i.fare_class)
                FILTER (WHERE i.fare_class IS NOT NULL), '{}') AS fare_amounts
        FROM travel_departures d LEFT JOIN travel_inventory i ON i.departure_id = d.id
        WHERE d.id = ANY($1::text[])
        GROUP BY d.id
        """,
        list(ids),
    )
    return [
        StaticDeparture(
            id=r["id"],
            carrier=r["carrier"],
            route=r["route"],
            mode=r["mode"],
            origin=r["origin"],
            destination=r["destination"],
            departs_at=r["departs_at"],
            arrives_at=r["arrives_at"],
            currency=r["currency"],
            classes=tuple(zip(r["fare_classes"], r["fare_amounts"], strict=True)),
        )
        for r in records
    ]


async def get_departure(conn: Connection, departure_id: str) -> DepartureRow | None:
    record = await conn.fetchrow(_SELECT + " WHERE d.id = $1", departure_id)
    return _departure(record) if record else None


async def commit_without_waiting_for_flush(conn: Connection) -> None:
    """For this transaction only: answer before the commit record reaches the disk."""
    await conn.execute("SET LOCAL synchronous_commit TO OFF")


async def release_held(conn: Connection, departure_id: str, fare_class: str, seats: int) -> None:
    await conn.execute(
        "UPDATE travel_inventory SET held = held - $3 WHERE departure_id = $1 AND fare_class = $2",
        departure_id,
        fare_class,
        seats,
    )


async def sell_held(conn: Connection, departure_id: str, fare_class: str, seats: int) -> None:
    await conn.execute(
        """
        UPDATE travel_inventory SET held = held - $3, sold = sold + $3
        WHERE departure_id = $1 AND fare_class = $2
        """,
        departure_id,
        fare_class,
        seats,
    )


async def sell(conn: Connection, departure_id: str, fare_class: str, seats: int) -> None:
    """Sell seats outright (a booking moved here); raises when they are not free."""
    done = await conn.fetchval(
        """
        UPDATE travel_inventory SET sold = sold + $3
        WHERE departure_id = $1 AND fare_class = $2 AND capacity - sold - held >= $3
        RETURNING 1
        """,
        departure_id,
        fare_class,
        seats,
    )
    if done is None:
        raise RuntimeError(f"seats of {departure_id}/{fare_class} not free for a move checked under lock")


async def return_sold(conn: Connection, departure_id: str, fare_class: str, seats: int) -> None:
    await conn.execute(
        "UPDATE travel_inventory SET sold = sold - $3 WHERE departure_id = $1 AND fare_class = $2",
        departure_id,
        fare_class,
        seats,
    )


async def seats(conn: Connection, departure_id: str, fare_class: str) -> tuple[int, int, int] | None:
    """(capacity, held, sold)."""
    record = await conn.fetchrow(
        "SELECT capacity, held, sold FROM travel_inventory WHERE departure_id = $1 AND fare_class = $2",
        departure_id,
        fare_class,
    )
    return (record["capacity"], record["held"], record["sold"]) if record else None


async def purge_departed(conn: Connection, before: datetime) -> int:
    """Departures long gone that nobody booked."""
    result = await conn.execute(
        """
        DELETE FROM travel_departures d WHERE d.departs_at < $1
          AND NOT EXISTS (SELECT 1 FROM travel_bookings b WHERE b.departure_id = d.id)
          AND NOT EXISTS (SELECT 1 FROM travel_bookings b WHERE b.moved_from = d.id)
        """,
        before,
    )
    return int(result.split()[-1])


async def cancel(
    conn: Connection, departure_id: str, at: datetime, reason: str, by: str
) -> DepartureRow | None:
    """Mark the departure cancelled (the first cancellation's time, reason and author stay);
    None when there is no such departure. Lock its seat rows first (`lock_departure`), so that no
    hold or sale of it commits after this without seeing it."""
    await conn.execute(
        """
        UPDATE travel_departures SET cancelled_at = $2, cancel_reason = $3, cancelled_by = $4
        WHERE id = $1 AND cancelled_at IS NULL
        """,
        departure_id,
        at,
        reason,
        by,
    )
    return await get_departure(conn, departure_id)


async def is_cancelled(conn: Connection, departure_id: str) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT cancelled_at IS NOT NULL FROM travel_departures WHERE id = $1", departure_id
        )
    )


async def next_with_seats(
    conn: Connection, departure: DepartureRow, fare_class: str, seats: int, after: datetime
) -> str | None:
    """The next departure of the same carrier and route leaving after `after`, not cancelled,
    with `seats` free in `fare_class`."""
    found = await conn.fetchval(
        """
        SELECT d.id FROM travel_departures d JOIN travel_inventory i ON i.departure_id = d.id
        WHERE d.carrier = $1 AND d.route = $2 AND d.departs_at > $3 AND d.cancelled_at IS NULL
          AND d.withdrawn_at IS NULL
          AND d.id <> $4 AND i.fare_class = $5 AND i.capacity - i.sold - i.held >= $6
        ORDER BY d.departs_at LIMIT 1
        """,
        departure.carrier,
        departure.route,
        after,
        departure.id,
        fare_class,
        seats,
    )
    return str(found) if found is not None else None
