"""How online scans are grouped into batches (issue 15, online scan throughput).

A batch's answers cost this process CPU to write (a few milliseconds for a batch of 30), so the
scans that queued while a batch was written go to the database before that batch is answered:
the database works meanwhile instead of waiting for the answers to be written.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bayaffairs.transit.scans import Decision, Scan, ScanService
from tests.transit.conftest import Ride

BUS = "shenzhen_bus"
SHUTTLE = "hzmb_shuttle"  # fares by the time of boarding: HK$70 from 00:00, HK$65 from 06:00


async def _until(condition: Any) -> None:
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("never happened")


async def test_scans_queued_during_a_write_go_to_the_database_before_its_answers(
    ride: Ride, monkeypatch: pytest.MonkeyPatch
) -> None:
    scans: ScanService = ride.services.transit.scans
    routes = ride.stops(BUS)[:3]
    payloads = [(await ride.code("shenzhen"))["payload"] for _ in routes]
    events: list[tuple[str, Any]] = []
    release = asyncio.Event()
    commit = scans._commit

    async def held_first(items: list[Any]) -> list[Decision]:
        events.append(("batch", len(items)))
        if len(events) == 1:
            await release.wait()  # the first batch is being written while the others queue
        return await commit(items)

    monkeypatch.setattr(scans, "_commit", held_first)

    async def tap(name: str, payload: str, route: str) -> Decision:
        decision = await scans.scan(Scan(BUS, "g1", route, "in", payload, ride.clock.now()))
        events.append(("answer", name))
        return decision

    first = asyncio.create_task(tap("first", payloads[0], routes[0]))
    await _until(lambda: events == [("batch", 1)])
    later = [
        asyncio.create_task(tap(f"later{i}", payload, route))
        for i, (payload, route) in enumerate(zip(payloads[1:], routes[1:], strict=True))
    ]
    for _ in range(100):  # both verified and queued behind the batch being written
        await asyncio.sleep(0)
    release.set()
    decisions = await asyncio.gather(first, *later)

    assert [d.decision for d in decisions] == ["open"] * 3
    assert events.index(("batch", 2)) < events.index(("answer", "first"))
    assert events[:2] == [("batch", 1), ("batch", 2)]


async def test_tap_ins_of_one_batch_are_priced_at_their_own_minute(ride: Ride) -> None:
    """Tap-ins priced in advance share their fares per stop and minute within a batch; a period
    of a time-of-day fare that starts between two of them still prices each by its own time."""
    recorder = ride.services.transit.scans.recorder
    stop = ride.stops(SHUTTLE)[0]
    hong_kong = ZoneInfo("Asia/Hong_Kong")
    day = ride.clock.now().astimezone(hong_kong).date()
    times = [
        datetime.combine(day, time(5, 59, 59, 900_000), tzinfo=hong_kong),
        datetime.combine(day, time(6, 0, 0, 100_000), tzinfo=hong_kong),
        datetime.combine(day, time(5, 59, 0), tzinfo=hong_kong),
        datetime.combine(day, time(6, 0, 59, 999_999), tzinfo=hong_kong),
    ]
    items: list[Any] = [
        {
            "operator": SHUTTLE,
            "station": stop,
            "direction": "in",
            "riders": 1,
            "account": f"{i:016x}",
            "scanned_at": at.isoformat(),
        }
        for i, at in enumerate(times)
    ]
    await recorder.prepare(items)
    assert [item["fares"]["adult"][0] for item in items] == [7000, 6500, 7000, 6500]


async def test_fares_kept_between_batches_are_those_of_each_scans_own_minute(ride: Ride) -> None:
    """A later batch reuses the fares an earlier one priced for the same stop and minute, and a
    batch after a time-of-day period started (06:00, HK$65) prices by it, not by what was kept
    for the minute before (HK$70)."""
    recorder = ride.services.transit.scans.recorder
    stop = ride.stops(SHUTTLE)[0]
    hong_kong = ZoneInfo("Asia/Hong_Kong")
    day = ride.clock.now().astimezone(hong_kong).date()

    async def adult_fare(at: time) -> int:
        item: Any = {
            "operator": SHUTTLE,
            "station": stop,
            "direction": "in",
            "riders": 1,
            "account": "00",
            "scanned_at": datetime.combine(day, at, tzinfo=hong_kong).isoformat(),
        }
        await recorder.prepare([item])  # a batch of its own
        return int(item["fares"]["adult"][0])

    assert await adult_fare(time(5, 59, 1)) == 7000
    assert await adult_fare(time(5, 59, 58)) == 7000  # the minute's fares, kept
    assert await adult_fare(time(6, 0, 0, 1)) == 6500
    assert await adult_fare(time(5, 59, 30)) == 7000
