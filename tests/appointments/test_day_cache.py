"""The counters' cached full days: one body per centre-day and language, the newest, in bounds."""

from __future__ import annotations

from datetime import timedelta

from bayaffairs.appointments.day_cache import DayBodies
from tests.support import START

DAY = START.date()


def test_a_body_is_served_only_for_the_change_number_it_was_kept_with() -> None:
    bodies = DayBodies()
    bodies.put("hq", DAY, "en", 7, b"seven")
    assert bodies.get("hq", DAY, "en", 7) == b"seven"
    assert bodies.get("hq", DAY, "en", 8) is None
    assert bodies.get("hq", DAY, "zh-Hant", 7) is None
    assert bodies.get("hq", DAY + timedelta(days=1), "en", 7) is None
    assert bodies.get("qh", DAY, "en", 7) is None


def test_a_newer_change_replaces_the_body_and_an_older_one_never_does() -> None:
    bodies = DayBodies()
    bodies.put("hq", DAY, "en", 7, b"seven")
    bodies.put("hq", DAY, "en", 9, b"nine")
    bodies.put("hq", DAY, "en", 8, b"eight")  # a slower request that read an older number
    assert (bodies.get("hq", DAY, "en", 9), bodies.get("hq", DAY, "en", 7)) == (b"nine", None)
    assert bodies.get("hq", DAY, "en", 8) is None
    assert (len(bodies), bodies.bytes) == (1, 4)


def test_the_bytes_stay_bounded_least_recently_used_out_first() -> None:
    bodies = DayBodies(max_bytes=40)
    for centre in ("a", "b", "c", "d"):
        bodies.put(centre, DAY, "en", 1, b"x" * 10)
    assert bodies.get("a", DAY, "en", 1) is not None  # used: b is now the oldest
    bodies.put("e", DAY, "en", 1, b"x" * 10)
    assert bodies.get("b", DAY, "en", 1) is None
    assert all(bodies.get(c, DAY, "en", 1) for c in ("a", "c", "d", "e"))
    assert bodies.bytes == 40


def test_a_body_over_a_quarter_of_the_budget_is_not_kept() -> None:
    bodies = DayBodies(max_bytes=40)
    bodies.put("a", DAY, "en", 1, b"x" * 10)
    bodies.put("a", DAY, "en", 2, b"x" * 11)
    assert bodies.get("a", DAY, "en", 1) is None and bodies.get("a", DAY, "en", 2) is None
    assert (len(bodies), bodies.bytes) == (0, 0)
