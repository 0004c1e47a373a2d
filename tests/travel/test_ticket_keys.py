"""Tickets verify until their travel date across key rotations: a ticket is sold up to
`days_ahead` before departure, so the key that signed it stays published and verifying that
long after it stops signing."""

from __future__ import annotations

from datetime import timedelta

from bayaffairs.transit.codes import base45
from tests.travel.conftest import HRP, Trip

COACH = ("huanggang_coach", "austin_huanggang")  # runs past midnight: the latest departures there are


async def test_a_ticket_for_the_furthest_departure_boards_after_its_key_was_replaced(trip: Trip) -> None:
    services = trip.services
    # The last moment the first key signs: a rotation staged now takes over in key_lead_hours.
    await services.transit.issuer_keys.rotate("tickets")
    lead = timedelta(hours=services.transit.issuer_keys.settings.key_lead_hours)
    trip.clock.advance(seconds=lead.total_seconds() - 60)
    await services.travel.departures.materialise()
    departure, departs_at = await trip.pg.fetchrow(
        "SELECT id, departs_at FROM travel_departures WHERE carrier = $1 AND route = $2"
        " ORDER BY departs_at DESC LIMIT 1",
        *COACH,
    )
    doc = await trip.document(HRP)
    status, held = await trip.hold(departure, [doc])
    assert status == 201, held
    status, paid = await trip.rider.post(f"/v1/travel/bookings/{held['id']}/payment")
    assert status == 200, paid
    assert int.from_bytes(base45.decode(paid["tickets"][0]["payload"])[2:4]) == 1  # signed by the first key

    trip.clock.set(departs_at - timedelta(minutes=30))  # days later: boarding opens
    services.travel.tickets.forget()
    device = await trip.carrier_device("huanggang_coach")
    status, scan = await device.post(
        "/v1/carrier/boardings", {"payload": paid["tickets"][0]["payload"], "departure_id": departure}
    )

    assert (status, scan["decision"]) == (200, "board"), scan
