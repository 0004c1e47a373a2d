"""A name scrubbed from an appointment (the rider's account erased, or retention anonymising it)
leaves the counters' day list: the scrub gives the appointment a new change number, so the
cached day, the ETag and `since` pulls all see it (issue 11 review finding 3)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from tests.appointments.conftest import TOMORROW, Desk, at
from tests.support import Api

pytestmark = pytest.mark.at_two_instants

DAY = f"/v1/counter/appointments?date={TOMORROW}"


async def pulled(counter: Api, url: str = DAY, etag: str | None = None) -> tuple[int, Any, str]:
    headers = {"Authorization": f"Bearer {counter.token}"}
    if etag is not None:
        headers["If-None-Match"] = etag
    async with counter.client.get(url, headers=headers) as response:
        body = await response.json() if response.status == 200 else None
        return response.status, body, response.headers["ETag"]


async def seen_by_the_counter(desk: Desk, name: str) -> tuple[Api, dict[str, Any], str]:
    """The rider's booking at the video counters (where the data goes to the desk: Hengqin's
    stays home), checked in and served; the counter's day (now cached) shows the name."""
    rider = await desk.another_rider(name)
    booked = await desk.booked(at(TOMORROW, "10:00"), rider=rider)
    desk.clock.set(datetime.fromisoformat(at(TOMORROW, "09:45")))
    counter = await desk.counter()
    status, _ = await counter.post("/v1/counter/check-ins", {"payload": booked["qr"]["payload"]})
    assert status == 200
    status, called = await counter.post("/v1/counter/queue/next", {"counter": "V1"})
    assert status == 200 and called["appointment"]["id"] == booked["id"], called
    status, _ = await counter.post(f"/v1/counter/appointments/{booked['id']}/outcome", {"outcome": "served"})
    assert status == 200
    status, day, etag = await pulled(counter)
    assert status == 200 and f"Rider {name}" in str(day["items"])
    return counter, day, etag


async def scrubbed_everywhere(counter: Api, day: dict[str, Any], etag: str, name: str) -> None:
    status, now, _ = await pulled(counter)  # the cached body of the day
    assert status == 200 and f"Rider {name}" not in str(now), now["items"]
    status, again, _ = await pulled(counter, etag=etag)  # not a 304 of the old body
    assert status == 200 and f"Rider {name}" not in str(again)
    status, changes, _ = await pulled(counter, f"{DAY}&since={day['cursor']}")
    assert status == 200
    assert [(i["holder_name"], i["status"]) for i in changes["items"]] == [("", "served")]


async def test_an_erased_riders_name_leaves_the_counters_day_list(video: Desk) -> None:
    desk = video
    counter, day, etag = await seen_by_the_counter(desk, "erase-me")
    rider = await desk.api.sign_in("erase-me")
    status, plan = await rider.post("/v1/me/deletion")
    assert status == 201, plan
    status, gone = await rider.delete("/v1/me", json={"confirmation": plan["confirmation"]})
    assert status in (200, 202), gone
    await scrubbed_everywhere(counter, day, etag, "erase-me")


async def test_a_name_retention_anonymises_leaves_the_counters_day_list(video: Desk) -> None:
    desk = video
    counter, day, etag = await seen_by_the_counter(desk, "long-ago")
    settings = desk.services.privacy.retention.settings
    desk.clock.advance(days=settings.appointments_after_visit + 1)
    report = await desk.services.privacy.retention.run()
    assert {k.kind: k.count for k in report.kinds}["appointments"] == 1
    await scrubbed_everywhere(counter, day, etag, "long-ago")


async def test_the_control_an_untouched_day_still_answers_304(video: Desk) -> None:
    desk = video
    counter, _, etag = await seen_by_the_counter(desk, "stays")
    desk.clock.advance(minutes=5)
    status, _, _ = await pulled(counter, etag=etag)
    assert status == 304
