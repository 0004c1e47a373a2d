"""The cancellation cooldown: a cancelled appointment's desk is held for a while, for everyone."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import asyncpg
import pytest

from bayaffairs.appointments.agency_settings import AgencySettings
from tests.appointments.conftest import COMMERCIAL, HENGQIN_ZONE, SOCIAL, TOMORROW, Desk, at

pytestmark = pytest.mark.at_two_instants

MINUTES = 30  # the default: Macao's agency sets none


async def remaining(desk: Desk, start: str, service: str = COMMERCIAL) -> int:
    return next(s for s in await desk.slots(TOMORROW, service) if s["start"] == start)["remaining"]


async def cancel(desk: Desk, appointment: dict[str, object], rider: object = None) -> None:
    status, body = await (rider or desk.rider).post(f"/v1/appointments/{appointment['id']}/cancellation")
    assert (status, body["status"]) == (200, "cancelled"), body


def set_cooldown(desk: Desk, minutes: int) -> None:
    """The agency's setting, as if config said so (adapter blocks cannot be overridden in tests)."""
    catalogue = desk.services.appointments.catalogue
    agency = catalogue.agencies["macao_hengqin_services"]
    catalogue.agencies[agency.id] = dataclasses.replace(agency, cancellation_cooldown_minutes=minutes)


async def test_a_cancelled_seat_is_not_rebookable_by_others_until_the_cooldown_ends(desk: Desk) -> None:
    start = at(TOMORROW, "10:00")
    first, second = await desk.another_rider("first"), await desk.another_rider("second")
    await desk.booked(start, SOCIAL, first)
    mine = await desk.booked(start, SOCIAL)  # capacity 2: now full
    await cancel(desk, mine)
    assert await remaining(desk, start, SOCIAL) == 0
    status, err = await desk.book(start, SOCIAL, second)
    assert (status, err["error"]["code"]) == (409, "slot_full")
    desk.clock.advance(minutes=MINUTES - 1)
    status, err = await desk.book(start, SOCIAL, second)
    assert (status, err["error"]["code"]) == (409, "slot_full")
    desk.clock.advance(minutes=1)
    assert await remaining(desk, start, SOCIAL) == 1
    status, body = await desk.book(start, SOCIAL, second)
    assert status == 201, body
    assert await remaining(desk, start, SOCIAL) == 0


async def test_the_canceller_cannot_rebook_the_slot_during_the_cooldown_even_with_seats_free(
    desk: Desk,
) -> None:
    start = at(TOMORROW, "10:00")
    mine = await desk.booked(start)  # capacity 3: two seats stay free
    await cancel(desk, mine)
    assert await remaining(desk, start) == 2
    status, err = await desk.book(start)
    assert (status, err["error"]["code"]) == (409, "cancellation_cooldown")
    until = desk.clock.local(HENGQIN_ZONE) + timedelta(minutes=MINUTES)
    assert err["error"]["details"]["until"] == until.isoformat(timespec="seconds")
    other = await desk.booked(at(TOMORROW, "09:00"))  # another slot is fine
    status, err = await desk.rider.post(f"/v1/appointments/{other['id']}/reschedule", {"start": start})
    assert (status, err["error"]["code"]) == (409, "cancellation_cooldown")
    desk.clock.advance(minutes=MINUTES)
    status, body = await desk.book(start)
    assert status == 201, body


async def test_a_desk_held_by_a_cancellation_is_released_once_the_cooldown_ends(
    desk: Desk, pg: asyncpg.Connection
) -> None:
    start = at(TOMORROW, "10:00")
    riders = [await desk.another_rider(f"r{i}") for i in range(3)]
    booked = [await desk.booked(start, SOCIAL, r) for r in riders[:2]]
    await cancel(desk, booked[0], riders[0])
    await cancel(desk, booked[1], riders[1])
    held = "SELECT count(*) FROM appointments WHERE seat_held_until IS NOT NULL"
    assert await pg.fetchval(held) == 2
    desk.clock.advance(minutes=MINUTES)
    assert await remaining(desk, start, SOCIAL) == 2
    status, body = await desk.book(start, SOCIAL, riders[2])
    assert status == 201, body
    assert await pg.fetchval(held) == 0  # the booker cleared both, under the day's lock
    assert await remaining(desk, start, SOCIAL) == 1


async def test_a_cooldown_of_zero_frees_the_seat_at_once(desk: Desk) -> None:
    set_cooldown(desk, 0)
    start = at(TOMORROW, "10:00")
    mine = await desk.booked(start)
    await cancel(desk, mine)
    assert await remaining(desk, start) == 3
    status, body = await desk.book(start)
    assert status == 201, body


async def test_the_cooldown_is_the_agencys_setting(desk: Desk) -> None:
    set_cooldown(desk, 5)
    start = at(TOMORROW, "10:00")
    mine = await desk.booked(start)
    await cancel(desk, mine)
    desk.clock.advance(minutes=4)
    status, err = await desk.book(start)
    assert (status, err["error"]["code"]) == (409, "cancellation_cooldown")
    desk.clock.advance(minutes=1)
    status, body = await desk.book(start)
    assert status == 201, body


async def test_a_reschedule_frees_the_old_seat_at_once(desk: Desk) -> None:
    start = at(TOMORROW, "10:00")
    mine = await desk.booked(start)
    status, moved = await desk.rider.post(
        f"/v1/appointments/{mine['id']}/reschedule", {"start": at(TOMORROW, "11:00")}
    )
    assert status == 201, moved
    assert await remaining(desk, start) == 3


async def test_the_setting_defaults_to_30_minutes_and_takes_0_to_a_day(desk: Desk) -> None:
    agencies = desk.services.appointments.catalogue.agencies.values()
    assert {a.cancellation_cooldown_minutes for a in agencies} == {MINUTES}
    for minutes, ok in ((0, True), (1440, True), (-1, False), (1441, False)):
        errors = AgencySettings().validate({"cancellation_cooldown_minutes": minutes})
        assert ("cancellation_cooldown_minutes" not in errors) == ok, (minutes, errors)
