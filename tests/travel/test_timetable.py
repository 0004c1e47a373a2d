"""Timetables: GTFS-like calendars and headways materialise into departures with the right fares."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from marshmallow import ValidationError

from bayaffairs.travel.bookings import refund_amount
from bayaffairs.travel.model import split_departure_id
from bayaffairs.travel.timetable import Timetable, TimetableSettings

FRIDAY = date(2025, 1, 3)


def settings(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "Coach",
        "mode": "coach",
        "currency": "HKD",
        "time_zone": "Asia/Hong_Kong",
        "ports": [
            {"id": "austin_road", "name": "Austin Road", "jurisdiction": "hong_kong"},
            {"id": "huanggang", "name": "Huanggang", "jurisdiction": "shenzhen"},
        ],
        "control_points": [{"id": "lmc", "name": "Lok Ma Chau"}],
        "fare_classes": [{"id": "standard", "name": "Standard", "capacity": 49}],
        "services": [
            {"id": "weekdays", "days": ["mon", "tue", "wed", "thu", "fri"], "removed": ["2025-01-01"]},
        ],
        "routes": [
            {
                "id": "out",
                "origin": "austin_road",
                "destination": "huanggang",
                "duration_minutes": 45,
                "service": "weekdays",
                "control_point": "lmc",
                "headways": [{"from": "23:00", "to": "25:00", "every": 30}],
                "fares": {"standard": 5000},
                "fare_periods": [{"from": "23:30", "to": "06:00", "fares": {"standard": 5500}}],
            }
        ],
        "refund_tiers": [{"before_minutes": 0, "percent": 0}, {"before_minutes": 1440, "percent": 90}],
    }
    base.update(over)
    return base


def timetable(**over: Any) -> Timetable:
    return Timetable.from_settings("coach", TimetableSettings().load(settings(**over)))


def test_headways_run_past_midnight_on_the_service_day_with_night_fares() -> None:
    departures = timetable().materialise(FRIDAY, 1)
    times = [(d.departs_at.strftime("%a %H:%M"), d.fares["standard"].amount) for d in departures]
    assert times == [
        ("Fri 23:00", 5000),
        ("Fri 23:30", 5500),
        ("Sat 00:00", 5500),
        ("Sat 00:30", 5500),
        ("Sat 01:00", 5500),
    ]
    assert departures[-1].id == "coach.out.20250103.2500"
    assert departures[0].arrives_at - departures[0].departs_at == timedelta(minutes=45)
    assert departures[0].departs_at.utcoffset() == timedelta(hours=8)


def test_the_calendar_skips_days_off_and_removed_dates() -> None:
    days = {d.service_date for d in timetable().materialise(date(2024, 12, 30), 7)}
    assert days == {date(2024, 12, 30), date(2024, 12, 31), date(2025, 1, 2), date(2025, 1, 3)}


def test_materialising_twice_gives_the_same_ids() -> None:
    tt = timetable()
    assert [d.id for d in tt.materialise(FRIDAY, 3)] == [d.id for d in tt.materialise(FRIDAY, 3)]


def test_a_departure_id_names_one_timetabled_run() -> None:
    tt = timetable()
    carrier, route, day, minute = split_departure_id("coach.out.20250103.2330") or ("", "", FRIDAY, 0)
    assert (carrier, route) == ("coach", "out")
    assert tt.departure(route, day, minute) is not None
    assert tt.departure(route, day, minute + 1) is None
    assert tt.departure(route, date(2025, 1, 4), minute) is None  # Saturday: no service
    assert split_departure_id("coach.out.2025013.2330") is None
    assert split_departure_id("../../etc") is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"mode": "zeppelin"}, "mode"),
        ({"routes": [{**settings()["routes"][0], "origin": "nowhere"}]}, "routes"),
        ({"routes": [{**settings()["routes"][0], "fares": {"first": 1}}]}, "routes"),
        ({"routes": [{**settings()["routes"][0], "departures": ["07:00"]}]}, "routes"),
        (
            {
                "routes": [
                    {**settings()["routes"][0], "headways": [{"from": "7:0", "to": "8:00", "every": 5}]}
                ]
            },
            "routes",
        ),
    ],
)
def test_a_bad_timetable_fails_naming_the_key(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        TimetableSettings().load(settings(**change))
    assert field in caught.value.messages


def test_refund_tiers_pick_the_longest_notice_that_applies() -> None:
    tt = timetable()
    assert tt.refund_percent(2000) == 90
    assert tt.refund_percent(1439) == 0
    assert tt.refund_percent(-5) == 0


@given(
    paid=st.integers(min_value=0, max_value=10**9),
    tiers=st.lists(
        st.tuples(st.integers(0, 10_000), st.integers(0, 100)),
        min_size=1,
        max_size=6,
        unique_by=lambda t: t[0],
    ),
    minutes=st.floats(min_value=-100, max_value=20_000, allow_nan=False),
)
def test_a_refund_is_never_more_than_was_paid_nor_negative(
    paid: int, tiers: list[tuple[int, int]], minutes: float
) -> None:
    tt = timetable(refund_tiers=[{"before_minutes": b, "percent": p} for b, p in tiers])
    refund = refund_amount(paid, tt.refund_percent(minutes))
    assert 0 <= refund <= paid


@given(
    tiers=st.lists(
        st.tuples(st.integers(0, 10_000), st.integers(0, 100)),
        min_size=1,
        max_size=6,
        unique_by=lambda t: t[0],
    ),
    earlier=st.integers(0, 20_000),
    later=st.integers(0, 20_000),
)
def test_cancelling_earlier_never_refunds_less_when_tiers_fall_with_notice(
    tiers: list[tuple[int, int]], earlier: int, later: int
) -> None:
    ordered = sorted(tiers)
    monotone = [
        {"before_minutes": b, "percent": p}
        for (b, _), p in zip(ordered, sorted(p for _, p in ordered), strict=True)
    ]
    tt = timetable(refund_tiers=monotone)
    more, less = max(earlier, later), min(earlier, later)
    assert tt.refund_percent(more) >= tt.refund_percent(less)


def test_every_configured_carrier_materialises_departures_with_a_fare_and_seats(config: Any) -> None:
    blocks = [b for b in config.adapter_blocks if b.module == "border_carrier" and b.enabled]
    assert {"xrl", "hzmb_bus", "huanggang_coach", "shekou_ferry"} <= {b.instance for b in blocks}
    start = FRIDAY
    for block in blocks:
        tt = Timetable.from_settings(block.instance, TimetableSettings().load(block.settings))
        departures = tt.materialise(start, 1)
        assert departures, block.instance
        assert all(d.fares and all(c > 0 for c in d.capacity.values()) for d in departures)
