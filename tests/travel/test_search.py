"""Departure search served from the in-process cache of what never changes: seats are read
fresh every time, and an unchanged answer revalidates with 304."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.travel.conftest import HKID, HONG_KONG, Trip

pytestmark = pytest.mark.at_two_instants

QUERY = "/v1/travel/departures?origin=hzmb_hk_port&destination=hzmb_macao_port&limit=5"


async def test_seats_remaining_are_fresh_on_every_search_while_the_rest_is_cached(trip: Trip) -> None:
    _, before = await trip.api.get(QUERY)
    first = before["items"][0]
    status, _ = await trip.hold(first["id"], [await trip.document(HKID)])
    assert status == 201
    _, after = await trip.api.get(QUERY)
    assert after["items"][0]["fares"][0]["seats_remaining"] == first["fares"][0]["seats_remaining"] - 1
    assert {k: v for k, v in after["items"][0].items() if k != "fares"} == {
        k: v for k, v in first.items() if k != "fares"
    }


async def test_an_unchanged_search_answers_304_to_its_etag_and_200_once_seats_change(trip: Trip) -> None:
    async with trip.api.client.get(QUERY) as first:
        etag = first.headers["ETag"]
        body = await first.json()
    async with trip.api.client.get(QUERY, headers={"If-None-Match": etag}) as again:
        assert again.status == 304
    await trip.hold(body["items"][0]["id"], [await trip.document(HKID)])
    async with trip.api.client.get(QUERY, headers={"If-None-Match": etag}) as changed:
        assert changed.status == 200 and changed.headers["ETag"] != etag


async def test_names_follow_the_language_of_each_search(trip: Trip) -> None:
    _, english = await trip.api.get(QUERY)
    _, chinese = await trip.api.get(QUERY, headers={"Accept-Language": "zh-Hant"})
    assert english["items"][0]["id"] == chinese["items"][0]["id"]
    assert english["items"][0]["carrier_name"] != chinese["items"][0]["carrier_name"]


async def test_the_date_filter_is_the_calendar_day_a_departure_leaves_in_bay_area_time(trip: Trip) -> None:
    """A run after midnight (timetable 24:00-29:00, the evening's service) is listed under the day
    it leaves, as its departs_at says and as the description of `date` states."""
    day = (trip.clock.now().astimezone(HONG_KONG) + timedelta(days=1)).date()
    status, body = await trip.api.get(
        f"/v1/travel/departures?origin=austin_road&destination=huanggang&date={day}&limit=100"
    )
    assert status == 200
    times = [datetime.fromisoformat(d["departs_at"]).astimezone(HONG_KONG) for d in body["items"]]
    assert {t.date() for t in times} == {day}
    assert min(times).strftime("%H:%M") == "00:00"  # the previous evening's service, leaving on `day`
    assert max(times).strftime("%H:%M") == "23:20"  # `day`'s own night runs leave the next day
