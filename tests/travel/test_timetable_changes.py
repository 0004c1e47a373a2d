"""Timetable changes (issue 10 item 10): a carrier's new timetable reaches the departures already
materialised that nobody bought (times, fares, seats; a run it no longer has leaves the sale),
while a departure with sales keeps what its riders bought and its riders are told what changed."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

from bayaffairs.adapters.protocols import Notifier
from bayaffairs.handlers.keys import WIRING
from bayaffairs.travel.timetable import clock_minutes
from tests.travel.conftest import HKID, HZMB, Trip, hkid_number, hzmb_fare

ROUTE = "hk_macao"
OTHER = {**HKID, "number": hkid_number(7), "holder_name": "Wong Siu Ming"}


def sent(trip: Trip) -> list[Any]:
    notifier = trip.api.client.server.app[WIRING].adapters.get("demo_notifier", Notifier)
    return [n.notification for n in notifier.sent if (n.notification.dedupe_key or "").startswith("schedule")]  # type: ignore[union-attr]


def new_timetable(
    trip: Trip, *, fare: int | None = None, duration: int | None = None, drop: tuple[str, ...] = ()
) -> None:
    """The HZMB bus's timetable as the next config would give it: route hk_macao at one fare
    all day, a new duration, without the runs of `drop` (departure ids)."""
    carriers = trip.services.travel.carriers
    carrier = carriers.by_id[HZMB]
    tt = carrier.timetable
    route = tt.routes[ROUTE]
    dropped = {clock_minutes(f"{d[-4:-2]}:{d[-2:]}") for d in drop}
    route = dataclasses.replace(
        route,
        fares={"standard": fare} if fare is not None else route.fares,
        fare_periods=() if fare is not None else route.fare_periods,
        duration_minutes=duration or route.duration_minutes,
        minutes=tuple(m for m in route.minutes if m not in dropped),
    )
    timetable = dataclasses.replace(tt, routes={**tt.routes, ROUTE: route})
    carriers.by_id[HZMB] = dataclasses.replace(carrier, timetable=timetable)


async def listed(trip: Trip) -> dict[str, Any]:
    _, body = await trip.api.get(
        "/v1/travel/departures?origin=hzmb_hk_port&destination=hzmb_macao_port&limit=100"
    )
    return {d["id"]: d for d in body["items"]}


async def test_a_new_timetable_reaches_departures_nobody_bought_and_flags_those_sold(trip: Trip) -> None:
    sold = await trip.departure(HZMB, ROUTE, hours=3)
    departs = await trip.departs_at(sold)
    unsold = (await listed_after(trip, departs))[0]
    status, held = await trip.hold(sold, [await trip.document(HKID)])
    assert status == 201, held
    status, booking = await trip.rider.post(f"/v1/travel/bookings/{held['id']}/payment")
    assert (status, booking["status"]) == (200, "confirmed")
    paid = booking["total"]["amount"]
    assert paid == hzmb_fare(departs)

    # Negative control: the same timetable again changes nothing and tells nobody.
    assert await trip.services.travel.departures.materialise() == 0
    assert sent(trip) == []

    new_timetable(trip, fare=6800, duration=55)
    await trip.services.travel.departures.materialise()

    found = await listed(trip)
    assert found[unsold]["fares"][0]["fare"]["amount"] == 6800
    arrives = await trip.pg.fetchval("SELECT arrives_at FROM travel_departures WHERE id = $1", unsold)
    assert (arrives - await trip.departs_at(unsold)).total_seconds() == 55 * 60
    # The sold departure: the rider keeps the fare paid and is told the new arrival, once.
    _, after = await trip.rider.get(f"/v1/travel/bookings/{held['id']}")
    assert (after["status"], after["total"]["amount"]) == ("confirmed", paid)
    change = after["schedule_change"]
    assert change["kind"] == "retimed"
    assert datetime.fromisoformat(change["arrives_at"]) == departs + timedelta(minutes=55)
    await trip.services.travel.departures.materialise()
    notes = sent(trip)
    assert [n.dedupe_key.split(":")[1] for n in notes] == [held["id"]]
    # New sales of the sold departure pay the new fare.
    status, late = await trip.hold(sold, [await trip.document(OTHER)])
    assert (status, late["total"]["amount"]) == (201, 6800)


async def listed_after(trip: Trip, after: Any) -> list[str]:
    rows = await trip.pg.fetch(
        "SELECT id FROM travel_departures WHERE carrier = $1 AND route = $2 AND departs_at > $3"
        " ORDER BY departs_at LIMIT 3",
        HZMB,
        ROUTE,
        after,
    )
    return [r["id"] for r in rows]


async def test_a_run_the_timetable_drops_leaves_the_sale_and_its_riders_are_told(trip: Trip) -> None:
    sold = await trip.departure(HZMB, ROUTE, hours=3)
    unsold, kept = (await listed_after(trip, await trip.departs_at(sold)))[:2]
    status, held = await trip.hold(sold, [await trip.document(HKID)])
    assert status == 201, held
    before = await listed(trip)
    assert {sold, unsold, kept} <= set(before)

    new_timetable(trip, drop=(sold, unsold))
    await trip.services.travel.departures.materialise()

    found = await listed(trip)
    assert sold not in found and unsold not in found and kept in found
    assert await trip.pg.fetchval("SELECT count(*) FROM travel_departures WHERE id = $1", unsold) == 0
    # The held booking keeps its seat and may still be paid; its rider sees why to think again.
    _, booking = await trip.rider.get(f"/v1/travel/bookings/{held['id']}")
    assert booking["status"] == "held"
    assert booking["schedule_change"]["kind"] == "withdrawn"
    assert booking["schedule_change"]["alternative"] == kept
    assert await trip.seats(sold) == (50, 1, 0)
    status, refused = await trip.hold(sold, [await trip.document(OTHER)])
    assert (status, refused["error"]["code"]) == (409, "departure_cancelled")
    await trip.services.travel.departures.materialise()
    assert [n.dedupe_key.split(":")[1] for n in sent(trip)] == [held["id"]]

    # The run comes back in the next timetable: on sale again, the flag gone.
    new_timetable(trip)
    carriers = trip.services.travel.carriers
    route = carriers.by_id[HZMB].timetable.routes[ROUTE]
    minute = clock_minutes(f"{sold[-4:-2]}:{sold[-2:]}")
    restored = dataclasses.replace(route, minutes=tuple(sorted({*route.minutes, minute})))
    tt = carriers.by_id[HZMB].timetable
    carriers.by_id[HZMB] = dataclasses.replace(
        carriers.by_id[HZMB], timetable=dataclasses.replace(tt, routes={**tt.routes, ROUTE: restored})
    )
    await trip.services.travel.departures.materialise()
    assert sold in await listed(trip)
    _, booking = await trip.rider.get(f"/v1/travel/bookings/{held['id']}")
    assert booking["schedule_change"] is None
