"""A cancellation that still holds a desk still counts for its person (issue 11, review finding 2).

The cancellation cooldown keeps a cancelled appointment's desk for a while, for everyone (see
test_cooldown.py). Cancelling gives the quota back at once, so without more one person could
book and cancel service after service at one time until every desk of that time was held, and
do it again at every time of the day. So, until the hold ends, the person (the quota's
identities: the document's person, on any account) may not book another time overlapping it,
and may have no more such holds on a day, or in a week, than the quota allows appointments.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.appointments.conftest import COMMERCIAL, HENGQIN_ZONE, SOCIAL, TOMORROW, Desk, at
from tests.appointments.test_cooldown import set_cooldown
from tests.appointments.test_quotas import NOTARISATION, TRADEMARK, document
from tests.appointments.test_times import set_service
from tests.support import Api

pytestmark = pytest.mark.at_two_instants

MINUTES = 30  # the agency's cancellation cooldown (the default)
QUOTA_PER_DAY = 2
# Every service the Hengqin centre offers: its four desks serve them between them.
HENGQIN_SERVICES = (
    COMMERCIAL,
    TRADEMARK,
    NOTARISATION,
    SOCIAL,
    "mo_real_estate_registration",
    "mo_food_premises_licence",
    "mo_pharmacy_retail_licence",
)
NINE = at(TOMORROW, "09:00")  # a start every service's grid has


async def cancel(rider: Api, appointment: dict[str, Any]) -> None:
    status, body = await rider.post(f"/v1/appointments/{appointment['id']}/cancellation")
    assert (status, body["status"]) == (200, "cancelled"), body


async def grief(desk: Desk, rider: Api, doc: str, start: str, rounds: int = 4) -> list[str]:
    """Book every service the centre offers at `start` that can be booked, cancel them all, and
    again: each cancellation keeps its desk for the cooldown. The refusals' codes."""
    refused: list[str] = []
    for _ in range(rounds):
        booked = []
        for service in HENGQIN_SERVICES:
            status, body = await desk.book(start, service, rider, document_id=doc)
            if status == 201:
                booked.append(body)
            else:
                assert status == 409, body
                refused.append(body["error"]["code"])
        for appointment in booked:
            await cancel(rider, appointment)
    return refused


def until(desk: Desk) -> str:
    return (desk.clock.local(HENGQIN_ZONE) + timedelta(minutes=MINUTES)).isoformat(timespec="seconds")


async def test_one_person_booking_and_cancelling_cannot_hold_every_desk_of_a_time(desk: Desk) -> None:
    griefer = await desk.another_rider("griefer")
    refused = await grief(desk, griefer, await desk.own_document(griefer), NINE)
    honest = await desk.another_rider("honest")
    status, body = await desk.book(NINE, COMMERCIAL, honest)
    assert status == 201, body
    assert "cancellation_still_counts" in refused


async def test_the_refusal_says_until_when_the_cancellation_counts(desk: Desk) -> None:
    rider = await desk.another_rider("canceller")
    doc = await desk.own_document(rider)
    mine = await desk.booked(NINE, COMMERCIAL, rider)
    await cancel(rider, mine)
    status, err = await desk.book(NINE, TRADEMARK, rider, document_id=doc)
    assert (status, err["error"]["code"]) == (409, "cancellation_still_counts")
    assert err["error"]["details"] == {
        "until": until(desk),
        "window": "time",
        "from": NINE,
        "to": at(TOMORROW, "09:30"),
    }
    # Overlapping is enough: a 15-minute service starting inside the held half hour.
    status, err = await desk.book(at(TOMORROW, "09:15"), SOCIAL, rider, document_id=doc)
    assert (status, err["error"]["code"]) == (409, "cancellation_still_counts")
    # Another time of the day is fine: the quota came back with the cancellation.
    status, body = await desk.book(at(TOMORROW, "09:30"), COMMERCIAL, rider, document_id=doc)
    assert status == 201, body


async def test_the_same_document_on_another_account_is_the_same_person(desk: Desk) -> None:
    first = await desk.another_rider("first-account")
    mine = await desk.book(NINE, COMMERCIAL, first, document_id=await document(first))
    assert mine[0] == 201, mine
    await cancel(first, mine[1])
    second = await desk.another_rider("second-account")
    same = await document(second)  # the same person's Macao ID, added on another account
    status, err = await desk.book(NINE, COMMERCIAL, second, document_id=same)
    assert (status, err["error"]["code"]) == (409, "cancellation_still_counts")
    status, err = await desk.book(NINE, NOTARISATION, second, document_id=same)
    assert (status, err["error"]["code"]) == (409, "cancellation_still_counts")


async def test_another_person_is_not_held_back_by_someone_elses_cancellation(desk: Desk) -> None:
    rider = await desk.another_rider("with-family")
    mine = await desk.booked(NINE, COMMERCIAL, rider)
    await cancel(rider, mine)
    # A family member's document on the same account is that person alone (the quota's rule).
    family = await document(rider, "7654321(0)", holder="other")
    status, body = await desk.book(NINE, TRADEMARK, rider, document_id=family)
    assert status == 201, body
    # Another person on another account.
    stranger = await desk.another_rider("stranger")
    status, body = await desk.book(NINE, NOTARISATION, stranger)
    assert status == 201, body


async def test_once_the_hold_ends_the_person_books_that_time_again(desk: Desk) -> None:
    rider = await desk.another_rider("patient")
    doc = await desk.own_document(rider)
    mine = await desk.booked(NINE, COMMERCIAL, rider)
    await cancel(rider, mine)
    desk.clock.advance(minutes=MINUTES - 1)
    status, err = await desk.book(NINE, TRADEMARK, rider, document_id=doc)
    assert (status, err["error"]["code"]) == (409, "cancellation_still_counts")
    desk.clock.advance(minutes=1)
    status, body = await desk.book(NINE, TRADEMARK, rider, document_id=doc)
    assert status == 201, body
    status, body = await desk.book(NINE, COMMERCIAL, rider, document_id=doc)  # its cooldown too
    assert status == 201, body


async def test_a_reschedule_into_a_held_time_is_refused_too(desk: Desk) -> None:
    rider = await desk.another_rider("mover")
    held = await desk.booked(NINE, COMMERCIAL, rider)
    other = await desk.booked(at(TOMORROW, "11:00"), TRADEMARK, rider)
    await cancel(rider, held)
    status, err = await rider.post(f"/v1/appointments/{other['id']}/reschedule", {"start": NINE})
    assert (status, err["error"]["code"]) == (409, "cancellation_still_counts")


async def test_holds_of_a_day_count_up_to_the_quota_at_every_time(desk: Desk) -> None:
    """Cancelling at one time after another would otherwise hold two desks at every time of
    the day while the quota allows two appointments."""
    rider = await desk.another_rider("day-long")
    doc = await desk.own_document(rider)
    for hhmm in ("09:00", "10:00"):
        mine = await desk.booked(at(TOMORROW, hhmm), COMMERCIAL, rider)
        await cancel(rider, mine)
    status, err = await desk.book(at(TOMORROW, "11:00"), COMMERCIAL, rider, document_id=doc)
    assert (status, err["error"]["code"]) == (409, "cancellation_still_counts")
    assert err["error"]["details"] == {
        "until": until(desk),
        "window": "day",
        "limit": QUOTA_PER_DAY,
        "from": TOMORROW.isoformat(),
        "to": TOMORROW.isoformat(),
    }
    # Another day is another day's quota; and a person with no holds books that day.
    day_after = TOMORROW + timedelta(days=1)
    status, body = await desk.book(at(day_after, "11:00"), COMMERCIAL, rider, document_id=doc)
    assert status == 201, body
    other = await desk.another_rider("other-person")
    status, body = await desk.book(at(TOMORROW, "11:00"), COMMERCIAL, other)
    assert status == 201, body
    desk.clock.advance(minutes=MINUTES)
    status, body = await desk.book(at(TOMORROW, "11:00"), TRADEMARK, rider, document_id=doc)
    assert status == 201, body


async def test_the_weeks_holds_count_up_to_the_weekly_quota(desk: Desk) -> None:
    for service in HENGQIN_SERVICES:
        set_service(desk, service, quota_per_week=3)
    rider = await desk.another_rider("week-long")
    doc = await desk.own_document(rider)
    day_after = TOMORROW + timedelta(days=1)
    for start in (at(TOMORROW, "09:00"), at(TOMORROW, "10:00"), at(day_after, "09:00")):
        mine = await desk.booked(start, COMMERCIAL, rider)
        await cancel(rider, mine)
    status, err = await desk.book(at(day_after, "11:00"), COMMERCIAL, rider, document_id=doc)
    assert (status, err["error"]["code"]) == (409, "cancellation_still_counts")
    assert (err["error"]["details"]["window"], err["error"]["details"]["limit"]) == ("week", 3)


async def test_without_a_cooldown_a_cancellation_holds_nothing_and_counts_for_nothing(desk: Desk) -> None:
    set_cooldown(desk, 0)
    rider = await desk.another_rider("no-cooldown")
    doc = await desk.own_document(rider)
    mine = await desk.booked(NINE, COMMERCIAL, rider)
    await cancel(rider, mine)
    status, body = await desk.book(NINE, TRADEMARK, rider, document_id=doc)
    assert status == 201, body
