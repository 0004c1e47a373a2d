"""The counters' cached full days: one body per centre-day and language, the newest, in bounds."""

from __future__ import annotations

import asyncio
import gzip
from datetime import date, timedelta

from bayaffairs.appointments.day_cache import Build, DayBodies
from tests.support import START

DAY = START.date()


def body(bodies: DayBodies, centre: str, change: int, day: date = DAY, language: str = "en") -> bytes | None:
    kept = bodies.get(centre, day, language, change)
    return None if kept is None else kept.body


def test_a_body_is_served_only_for_the_change_number_it_was_kept_with() -> None:
    bodies = DayBodies()
    bodies.put("hq", DAY, "en", 7, b"seven")
    assert body(bodies, "hq", 7) == b"seven"
    assert body(bodies, "hq", 8) is None
    assert body(bodies, "hq", 7, language="zh-Hant") is None
    assert body(bodies, "hq", 7, day=DAY + timedelta(days=1)) is None
    assert body(bodies, "qh", 7) is None


def test_a_newer_change_replaces_the_body_and_an_older_one_never_does() -> None:
    bodies = DayBodies()
    bodies.put("hq", DAY, "en", 7, b"seven")
    bodies.put("hq", DAY, "en", 9, b"nine")
    assert bodies.put("hq", DAY, "en", 8, b"eight") is None  # a slower request that read an older number
    assert (body(bodies, "hq", 9), body(bodies, "hq", 7)) == (b"nine", None)
    assert body(bodies, "hq", 8) is None
    assert (len(bodies), bodies.bytes) == (1, 4)


def test_the_bytes_stay_bounded_least_recently_used_out_first() -> None:
    bodies = DayBodies(max_bytes=40)
    for centre in ("a", "b", "c", "d"):
        bodies.put(centre, DAY, "en", 1, b"x" * 10)
    assert body(bodies, "a", 1) is not None  # used: b is now the oldest
    bodies.put("e", DAY, "en", 1, b"x" * 10)
    assert body(bodies, "b", 1) is None
    assert all(body(bodies, c, 1) for c in ("a", "c", "d", "e"))
    assert bodies.bytes == 40


def test_a_body_over_a_quarter_of_the_budget_is_not_kept() -> None:
    bodies = DayBodies(max_bytes=40)
    bodies.put("a", DAY, "en", 1, b"x" * 10)
    assert bodies.put("a", DAY, "en", 2, b"x" * 11) is None
    assert body(bodies, "a", 1) is None and body(bodies, "a", 2) is None
    assert (len(bodies), bodies.bytes) == (0, 0)


def test_the_gzip_form_is_made_once_counted_and_dropped_with_its_body() -> None:
    raw = b'{"items":[' + b'{"status":"booked"},' * 500 + b"]}"
    bodies = DayBodies(max_bytes=80_000)
    kept = bodies.put("hq", DAY, "en", 1, raw)
    assert kept is not None and kept.gzipped is None  # nobody asked for it yet
    packed = bodies.gzipped(kept)
    assert gzip.decompress(packed) == raw and len(packed) < len(raw) // 10
    assert bodies.gzipped(kept) is packed  # made once
    assert bodies.bytes == len(raw) + len(packed)
    bodies.put("hq", DAY, "en", 2, b"two")  # the next change replaces body and gzip form
    assert bodies.bytes == 3
    assert bodies.gzipped(kept) is packed and bodies.bytes == 3  # a dropped one counts no more


async def test_requests_missing_the_same_day_at_once_share_one_build() -> None:
    bodies = DayBodies()
    release = asyncio.Event()
    builds: list[int] = []

    def builder(change: int) -> Build:
        async def build() -> tuple[int, bytes]:
            builds.append(change)
            await release.wait()
            return change, f"day as of {change}".encode()

        return build

    waiting = [asyncio.ensure_future(bodies.build_once("hq", DAY, "en", 5, builder(5))) for _ in range(10)]
    await asyncio.sleep(0)
    # One that read a newer number than the running build's does not take its older day.
    newer = asyncio.ensure_future(bodies.build_once("hq", DAY, "en", 6, builder(6)))
    other_day = asyncio.ensure_future(bodies.build_once("hq", DAY + timedelta(days=1), "en", 5, builder(5)))
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*waiting) == [(5, b"day as of 5")] * 10
    assert await newer == (6, b"day as of 6")
    assert await other_day == (5, b"day as of 5")
    assert builds == [5, 5, 6]  # this day's once, the other day's, and the newer number's
    assert not bodies._building
