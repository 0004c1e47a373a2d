"""Slot generation from rules, in the centre's time zone (a DST zone as a control)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bayaffairs.appointments.model import Centre, Counter, Service
from bayaffairs.appointments.slots import day_starts, slots
from tests.support import START, next_weekday


def centre(
    zone: str, hours: dict[int, tuple[tuple[time, time], ...]], closed: frozenset[date] = frozenset()
) -> Centre:
    return Centre(
        id="c",
        agency_id="a",
        name=None,
        address=None,
        region="HK",
        city=None,  # type: ignore[arg-type]
        time_zone=zone,
        reference_prefix="TS",
        hours=hours,
        closed_days=closed,
        counters=(Counter("K1", frozenset({"s"})), Counter("K2", frozenset({"s"}))),
    )


def service(minutes: int) -> Service:
    return Service("s", "a", "x", None, minutes, (), (), 1, 60, 1)  # type: ignore[arg-type]


def disjoint(xs: list[tuple[time, time]]) -> tuple[tuple[time, time], ...]:
    """Opening intervals as config allows them: no two overlap (agency_settings.py checks)."""
    out: list[tuple[time, time]] = []
    for a, b in xs:
        if not out or a >= out[-1][1]:
            out.append((a, b))
    return tuple(out)


intervals = st.lists(
    st.tuples(st.integers(0, 23 * 4), st.integers(1, 8)).map(
        lambda t: (time(t[0] // 4, t[0] % 4 * 15), time(min(23, t[0] // 4 + t[1]), t[0] % 4 * 15))
    ),
    max_size=2,
).map(lambda xs: disjoint(sorted((a, b) for a, b in xs if a < b)))


@settings(max_examples=150, deadline=None)
@given(
    hours=st.dictionaries(st.integers(0, 6), intervals, max_size=7),
    closed=st.frozensets(st.dates(START.date(), START.date() + timedelta(days=365)), max_size=20),
    minutes=st.sampled_from([10, 15, 20, 30, 45, 60]),
    first=st.dates(START.date(), START.date() + timedelta(days=330)),
    zone=st.sampled_from(
        ["Asia/Shanghai", "Asia/Hong_Kong", "Asia/Macau", "Europe/London", "America/New_York"]
    ),
)
def test_no_slot_outside_opening_hours_none_on_closed_days_and_none_twice(
    hours: dict[int, tuple[tuple[time, time], ...]],
    closed: frozenset[date],
    minutes: int,
    first: date,
    zone: str,
) -> None:
    c = centre(zone, hours, closed)
    found = slots(c, service(minutes), first, first + timedelta(days=30))
    starts = [s.start for s in found]
    assert len(set(starts)) == len(starts)
    for s in found:
        local = s.start.astimezone(c.zone)
        assert local.date() not in closed
        wall_end = (local.replace(tzinfo=None) + timedelta(minutes=minutes)).time()
        assert any(a <= local.time() < b and wall_end <= b for a, b in hours.get(local.weekday(), ()))
        assert s.end.astimezone(UTC) - s.start.astimezone(UTC) == timedelta(minutes=minutes)
        assert s.remaining == 2


def test_a_slot_in_the_spring_forward_gap_is_not_offered() -> None:
    # Europe/London, Sunday 29 March 2026: 01:00 to 02:00 does not exist.
    c = centre("Europe/London", {6: ((time(0, 0), time(3, 0)),)})
    spring_forward = date(2026, 3, 29)  # date under test
    starts = [s.astimezone(c.zone).strftime("%H:%M") for s in day_starts(c, service(30), spring_forward)]
    assert starts == ["00:00", "00:30", "02:00", "02:30"]


def test_a_wall_time_that_happens_twice_gives_one_slot_of_real_length() -> None:
    # Europe/London, Sunday 25 October 2026: 01:00 to 02:00 happens twice.
    c = centre("Europe/London", {6: ((time(0, 0), time(3, 0)),)})
    found = slots(c, service(60), date(2026, 10, 25), date(2026, 10, 25))  # date under test
    assert [s.start.astimezone(UTC).strftime("%H:%M") for s in found] == ["23:00", "00:00", "02:00"]
    assert all(s.end.astimezone(UTC) - s.start.astimezone(UTC) == timedelta(hours=1) for s in found)


def test_gba_zones_have_no_dst_every_weekday_looks_the_same() -> None:
    c = centre("Asia/Shanghai", {d: ((time(9, 0), time(12, 0)),) for d in range(7)})
    for day in (date(2026, 3, 29), date(2026, 10, 25), date(2026, 7, 1)):  # date under test: DST days
        assert len(list(day_starts(c, service(30), day))) == 6


def test_remaining_is_what_the_desks_ledger_answers() -> None:
    c = centre("Asia/Macau", {1: ((time(9, 0), time(10, 0)),)})
    day = next_weekday(START.date(), "tue")
    first = next(day_starts(c, service(30), day)).astimezone(UTC)
    asked = []

    def remaining(start: datetime, end: datetime) -> int:
        asked.append((start, end))
        return 0 if start == first else 2

    found = slots(c, service(30), day, day, remaining)
    assert [s.remaining for s in found] == [0, 2]
    assert asked == [
        (first, first + timedelta(minutes=30)),
        (first + timedelta(minutes=30), first + timedelta(hours=1)),
    ]
