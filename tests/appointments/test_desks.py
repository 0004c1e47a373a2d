"""Capacity per desk: a counter serves one appointment at a time, whatever the service.

At Hengqin (config/jurisdictions/macao.toml) A1 serves commercial registration and trademarks,
A2 commercial registration, food premises and pharmacies, A3 social insurance and real estate,
A4 notarisation, commercial registration and social insurance: four desks in all.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.appointments.conftest import COMMERCIAL, SOCIAL, TOMORROW, Desk, at

TRADEMARK = "mo_trademark_registration"  # only A1
NOTARISATION = "mo_notarisation"  # only A4


async def remaining(desk: Desk, service: str, hhmm: str) -> int:
    offered = await desk.slots(TOMORROW, service)
    return next(s for s in offered if s["start"] == at(TOMORROW, hhmm))["remaining"]


async def book_as_new_rider(desk: Desk, service: str, hhmm: str, n: int) -> tuple[int, Any]:
    return await desk.book(
        at(TOMORROW, hhmm), service, await desk.another_rider(f"{service}-{hhmm.replace(':', '')}-{n}")
    )


async def test_two_services_sharing_desks_never_book_more_people_than_desks(desk: Desk) -> None:
    assert (await remaining(desk, COMMERCIAL, "09:00"), await remaining(desk, SOCIAL, "09:00")) == (3, 2)
    answers = [await book_as_new_rider(desk, COMMERCIAL, "09:00", i) for i in range(3)]
    answers += [await book_as_new_rider(desk, SOCIAL, "09:00", i) for i in range(2)]
    assert [status for status, _ in answers] == [201, 201, 201, 201, 409]
    assert answers[-1][1]["error"]["code"] == "slot_full"
    assert (await remaining(desk, COMMERCIAL, "09:00"), await remaining(desk, SOCIAL, "09:00")) == (0, 0)


async def test_a_longer_appointment_keeps_its_desk_for_its_whole_length(desk: Desk) -> None:
    for i in range(3):  # 30 minutes each, on A1, A2 and A4
        status, body = await book_as_new_rider(desk, COMMERCIAL, "09:00", i)
        assert status == 201, body
    # Social insurance takes 15 minutes: at 09:00 and at 09:15 only A3 is free.
    assert [await remaining(desk, SOCIAL, t) for t in ("09:00", "09:15", "09:30")] == [1, 1, 2]
    status, body = await book_as_new_rider(desk, SOCIAL, "09:15", 0)
    assert status == 201, body
    assert [await remaining(desk, SOCIAL, t) for t in ("09:00", "09:15", "09:30")] == [1, 0, 2]
    status, body = await book_as_new_rider(desk, SOCIAL, "09:15", 1)
    assert (status, body["error"]["code"]) == (409, "slot_full")


async def test_a_booking_moves_an_earlier_one_to_another_able_desk_rather_than_refusing(desk: Desk) -> None:
    status, body = await book_as_new_rider(desk, COMMERCIAL, "09:00", 0)
    assert status == 201, body
    # Trademarks are only served at A1; the commercial registration can go to A2 or A4.
    assert await remaining(desk, TRADEMARK, "09:00") == 1
    status, body = await book_as_new_rider(desk, TRADEMARK, "09:00", 0)
    assert status == 201, body
    # A1 does the trademark, A2 the registration: A4 is left, for either of its services.
    assert await remaining(desk, COMMERCIAL, "09:00") == 1
    assert await remaining(desk, NOTARISATION, "09:00") == 1


async def test_every_active_appointment_holds_a_desk_that_serves_it(desk: Desk, pg: Any) -> None:
    for service, n in ((COMMERCIAL, 0), (TRADEMARK, 0), (SOCIAL, 0), (COMMERCIAL, 1), (NOTARISATION, 0)):
        await book_as_new_rider(desk, service, "09:00", n)
    rows = await pg.fetch("SELECT service_id, counter_id FROM appointments WHERE status = 'booked'")
    centre = desk.services.appointments.catalogue.centre("hengqin_gasc")
    assert len(rows) == 4
    assert len({r["counter_id"] for r in rows}) == 4
    assert all(r["service_id"] in centre.counter(r["counter_id"]).services for r in rows)


async def test_the_database_refuses_two_active_appointments_on_one_desk_at_once(desk: Desk, pg: Any) -> None:
    body = await desk.booked(at(TOMORROW, "09:00"))
    with pytest.raises(Exception, match="appointments_one_per_desk"):
        await pg.execute(
            """INSERT INTO appointments (id, reference, user_id, agency_id, centre_id, service_id, starts_at,
                ends_at, local_date, counter_id, status, holder_name, created_at, updated_at, change_seq)
            SELECT 'apt_x', 'XX-1', user_id, agency_id, centre_id, $2, starts_at + interval '15 minutes',
                ends_at, local_date, counter_id, 'booked', 'x', now(), now(), 0
            FROM appointments WHERE id = $1""",
            body["id"],
            SOCIAL,
        )
