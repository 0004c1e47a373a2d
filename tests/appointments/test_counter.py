"""The counter's side: scoped to one centre, day list with ETag and cursor, check-in, queue."""

from __future__ import annotations

import asyncio
import gzip
import json
from datetime import datetime
from typing import Any

import pytest

from tests.appointments.conftest import BY_VIDEO, SOCIAL, TOMORROW, Desk, at
from tests.support import FAR_AHEAD

pytestmark = pytest.mark.at_two_instants


async def booked_for_today(desk: Desk, n: int = 1, service: str = SOCIAL) -> list[dict[str, Any]]:
    """Book `n` people for tomorrow, then move the clock to 09:00 that day: their morning has come
    (the queue calls each from 30 minutes before their time)."""
    out = []
    for i in range(n):
        rider = await desk.another_rider(f"visitor-{i}")
        out.append(await desk.booked(at(TOMORROW, "09:00" if i < 2 else "09:15"), service, rider))
    desk.clock.set(datetime.fromisoformat(at(TOMORROW, "09:00")))
    return out


async def test_a_counter_sees_its_centres_day_with_name_and_masked_number_only(video: Desk) -> None:
    """At a centre the applicant's data is sent to (the video counters: MO -> CN): where it
    stays home (Hengqin) the list has neither, see test_data_home.py."""
    status, doc = await video.rider.post(
        "/v1/me/documents",
        {
            "type": "macao_id",
            "holder_name": "CHAN Tai Man",
            "number": "1234567(8)",
            "issuing": "MO",
            "expires": FAR_AHEAD,
        },
    )
    assert status == 201, doc
    status, body = await video.book(at(TOMORROW, "09:00"), document_id=doc["id"])
    assert status == 201, body
    counter = await video.counter()
    status, day = await counter.get(f"/v1/counter/appointments?date={TOMORROW}")
    assert status == 200, day
    assert day["data_stays_in"] is None
    [item] = day["items"]
    assert item["holder_name"] == "CHAN Tai Man"
    assert item["number_masked"] == doc["number_masked"] and "1234567" not in item["number_masked"]
    assert "user_id" not in item and "document_id" not in item


async def test_the_day_list_answers_304_until_something_changes(desk: Desk) -> None:
    await desk.booked(at(TOMORROW, "09:00"))
    counter = await desk.counter()
    url = f"/v1/counter/appointments?date={TOMORROW}"
    async with counter.client.get(url, headers={"Authorization": f"Bearer {counter.token}"}) as resp:
        assert resp.status == 200
        etag = resp.headers["ETag"]
    headers = {"If-None-Match": etag}
    status, _ = await counter.get(url, headers=headers)
    assert status == 304
    await desk.booked(at(TOMORROW, "09:30"))
    status, body = await counter.get(url, headers=headers)
    assert status == 200 and len(body["items"]) == 2


async def test_since_gives_only_what_changed_including_cancellations(desk: Desk) -> None:
    first = await desk.booked(at(TOMORROW, "09:00"))
    counter = await desk.counter()
    status, day = await counter.get(f"/v1/counter/appointments?date={TOMORROW}")
    cursor = day["cursor"]
    second = await desk.booked(at(TOMORROW, "09:30"))
    status, _ = await desk.rider.post(f"/v1/appointments/{first['id']}/cancellation")
    assert status == 200
    status, changes = await counter.get(f"/v1/counter/appointments?date={TOMORROW}&since={cursor}")
    assert status == 200
    assert {(i["id"], i["status"]) for i in changes["items"]} == {
        (first["id"], "cancelled"),
        (second["id"], "booked"),
    }
    status, none = await counter.get(f"/v1/counter/appointments?date={TOMORROW}&since={changes['cursor']}")
    assert none["items"] == []


async def test_a_counter_of_another_centre_never_sees_or_touches_the_appointment(desk: Desk) -> None:
    body = await desk.booked(at(TOMORROW, "09:00"))
    other = await desk.counter("macao_video_counters")
    status, day = await other.get(f"/v1/counter/appointments?date={TOMORROW}")
    assert status == 200 and day["items"] == []
    for path, payload in (
        (f"/v1/counter/appointments/{body['id']}/check-in", {}),
        (f"/v1/counter/appointments/{body['id']}/outcome", {"outcome": "no_show"}),
        ("/v1/counter/check-ins", {"reference": body["reference"]}),
    ):
        status, err = await other.post(path, payload)
        assert status == 404, (path, err)
        assert err["error"]["code"] == "appointment_not_found"


async def test_riders_and_gates_cannot_use_the_counter_api(desk: Desk) -> None:
    gate = desk.api.as_((await desk.services.credentials.issue("gate", "shenzhen_metro")).token)
    for caller in (desk.rider, gate):
        status, err = await caller.get("/v1/counter/appointments")
        assert status == 403 and err["error"]["code"] == "wrong_credential_kind"
    status, _ = await desk.api.get("/v1/counter/appointments")
    assert status == 401


async def test_check_in_by_qr_gives_a_queue_number_and_again_the_same(video: Desk) -> None:
    """Then again by id and by the typed reference: at a centre that has the name to check
    against the document (the video counters); where the data stays home, the QR only (test_data_home.py)."""
    [body] = await booked_for_today(video, service=BY_VIDEO)
    counter = await video.counter()
    status, first = await counter.post("/v1/counter/check-ins", {"payload": body["qr"]["payload"]})
    assert status == 200, first
    assert first["queue_number"] == 1
    status, again = await counter.post(f"/v1/counter/appointments/{body['id']}/check-in", {})
    assert (status, again["queue_number"]) == (200, 1)
    status, by_ref = await counter.post("/v1/counter/check-ins", {"reference": body["reference"].lower()})
    assert (status, by_ref["queue_number"]) == (200, 1)


async def test_check_in_is_refused_on_another_day_and_with_a_forged_code(desk: Desk) -> None:
    body = await desk.booked(at(TOMORROW, "09:00"))
    counter = await desk.counter()
    payload = body["qr"]["payload"]
    status, err = await counter.post(f"/v1/counter/appointments/{body['id']}/check-in", {"payload": payload})
    assert (status, err["error"]["code"]) == (409, "not_today")
    forged = payload[:-3] + ("AAA" if payload[-3:] != "AAA" else "BBB")
    status, err = await counter.post("/v1/counter/check-ins", {"payload": forged})
    assert status == 400 and err["error"]["code"] == "invalid_code"


async def test_after_a_reschedule_the_old_qr_no_longer_checks_in(desk: Desk) -> None:
    body = await desk.booked(at(TOMORROW, "09:00"))
    status, moved = await desk.rider.post(
        f"/v1/appointments/{body['id']}/reschedule", {"start": at(TOMORROW, "10:00")}
    )
    assert status == 201, moved
    desk.clock.advance(days=1)
    counter = await desk.counter()
    status, err = await counter.post("/v1/counter/check-ins", {"payload": body["qr"]["payload"]})
    assert (status, err["error"]["code"]) == (409, "code_superseded")
    status, ok = await counter.post("/v1/counter/check-ins", {"payload": moved["qr"]["payload"]})
    assert status == 200 and ok["appointment_id"] == moved["id"]


async def test_two_counters_calling_at_once_never_get_the_same_person(desk: Desk) -> None:
    people = await booked_for_today(desk, 3)
    counter = await desk.counter()
    for person in people:
        status, _ = await counter.post(
            f"/v1/counter/appointments/{person['id']}/check-in", {"payload": person["qr"]["payload"]}
        )
        assert status == 200
    answers = await asyncio.gather(
        *(counter.post("/v1/counter/queue/next", {"counter": c}) for c in ("A3", "A4", "A3"))
    )
    called = [body["appointment"]["id"] for status, body in answers if status == 200 and body["appointment"]]
    assert sorted(called) == sorted(p["id"] for p in people)
    status, empty = await counter.post("/v1/counter/queue/next", {"counter": "A4"})
    assert status == 200 and empty["appointment"] is None


async def test_called_three_times_without_showing_is_a_no_show(desk: Desk) -> None:
    [person] = await booked_for_today(desk)
    counter = await desk.counter()
    await counter.post(
        f"/v1/counter/appointments/{person['id']}/check-in", {"payload": person["qr"]["payload"]}
    )
    status, called = await counter.post("/v1/counter/queue/next", {"counter": "A3"})
    assert called["appointment"]["call_count"] == 1
    for expected in (2, 3):
        status, again = await counter.post(f"/v1/counter/appointments/{person['id']}/recall")
        assert (status, again["status"], again["call_count"]) == (200, "called", expected)
    desk.clock.advance(minutes=10)  # 09:10: past the time plus the grace (test_times covers before)
    status, gone = await counter.post(f"/v1/counter/appointments/{person['id']}/recall")
    assert (status, gone["status"]) == (200, "no_show")
    status, err = await counter.post(
        f"/v1/counter/appointments/{person['id']}/outcome", {"outcome": "served"}
    )
    assert (status, err["error"]["code"]) == (409, "invalid_transition")


async def test_served_is_recorded_once_and_unknown_counters_are_404(desk: Desk) -> None:
    [person] = await booked_for_today(desk)
    counter = await desk.counter()
    await counter.post(
        f"/v1/counter/appointments/{person['id']}/check-in", {"payload": person["qr"]["payload"]}
    )
    status, err = await counter.post("/v1/counter/queue/next", {"counter": "Z9"})
    assert (status, err["error"]["code"]) == (404, "counter_not_found")
    await counter.post("/v1/counter/queue/next", {"counter": "A3"})
    for _ in range(2):
        status, done = await counter.post(
            f"/v1/counter/appointments/{person['id']}/outcome", {"outcome": "served"}
        )
        assert (status, done["status"]) == (200, "served")


# -- the cached full day --------------------------------------------------------------------------


async def full_pull(counter: Any, headers: dict[str, str] | None = None) -> tuple[int, str, bytes]:
    """(status, ETag, raw body) of the full day list of tomorrow."""
    async with counter.client.get(
        f"/v1/counter/appointments?date={TOMORROW}",
        headers={"Authorization": f"Bearer {counter.token}", **(headers or {})},
    ) as resp:
        return resp.status, resp.headers["ETag"], await resp.read()


def statuses(raw: bytes) -> dict[str, str]:
    return {item["id"]: item["status"] for item in json.loads(raw)["items"]}


async def test_a_repeated_full_pull_is_answered_from_the_cached_body(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    await desk.booked(at(TOMORROW, "09:00"))
    counter = await desk.counter()
    loads = []
    day = desk.services.appointments.desk.day

    async def counted(*args: Any) -> Any:
        loads.append(args)
        return await day(*args)

    monkeypatch.setattr(desk.services.appointments.desk, "day", counted)
    first = await full_pull(counter)
    again = await full_pull(counter)
    assert first[0] == again[0] == 200
    assert again == first and len(loads) == 1
    [item] = json.loads(again[2])["items"]
    assert set(item) == {
        "id",
        "reference",
        "service_id",
        "service_name",
        "start",
        "end",
        "status",
        "holder_name",
        "number_masked",
        "queue_number",
        "call_count",
        "called_by",
        "walk_in",
        "change",
    }
    status, _ = await counter.get(f"/v1/counter/appointments?date={TOMORROW}&since=0")
    assert status == 200 and len(loads) == 1  # since=0 is the full day
    for _ in range(2):
        status, _ = await counter.get(f"/v1/counter/appointments?date={TOMORROW}&since=1")
        assert status == 200
    assert len(loads) == 3  # deltas are computed every time


async def test_a_booking_shows_in_the_next_full_pull_and_changes_the_etag(desk: Desk) -> None:
    await desk.booked(at(TOMORROW, "09:00"))
    counter = await desk.counter()
    _, etag, before = await full_pull(counter)
    assert (await full_pull(counter))[1] == etag  # cached
    other = await desk.booked(at(TOMORROW, "09:30"), rider=await desk.another_rider("late"))
    status, new_etag, after = await full_pull(counter, {"If-None-Match": etag})
    assert status == 200 and new_etag != etag
    assert statuses(after) == {**statuses(before), other["id"]: "booked"}


async def test_a_cancellation_shows_in_the_next_full_pull_and_changes_the_etag(desk: Desk) -> None:
    body = await desk.booked(at(TOMORROW, "09:00"))
    counter = await desk.counter()
    _, etag, before = await full_pull(counter)
    assert (await full_pull(counter))[1] == etag
    status, _ = await desk.rider.post(f"/v1/appointments/{body['id']}/cancellation")
    assert status == 200
    status, new_etag, after = await full_pull(counter, {"If-None-Match": etag})
    assert status == 200 and new_etag != etag
    assert (statuses(before), statuses(after)) == ({body["id"]: "booked"}, {body["id"]: "cancelled"})


async def test_a_check_in_shows_in_the_next_full_pull_and_changes_the_etag(desk: Desk) -> None:
    [person] = await booked_for_today(desk)
    counter = await desk.counter()
    _, etag, before = await full_pull(counter)
    assert (await full_pull(counter))[1] == etag
    status, checked = await counter.post("/v1/counter/check-ins", {"payload": person["qr"]["payload"]})
    assert status == 200, checked
    status, new_etag, after = await full_pull(counter, {"If-None-Match": etag})
    assert status == 200 and new_etag != etag
    [item] = json.loads(after)["items"]
    assert statuses(before) == {person["id"]: "booked"}
    assert (item["status"], item["queue_number"]) == ("checked_in", checked["queue_number"])
    assert json.loads(after)["cursor"] > json.loads(before)["cursor"]


async def test_a_counter_asking_for_gzip_gets_the_full_day_compressed_with_the_same_etag(desk: Desk) -> None:
    """A counter's client sends Accept-Encoding: gzip; the full day (~0.7 MB at 2,000 people)
    goes out as its kept gzip form. The ETag is weak, so one for both forms; deltas stay plain."""
    await desk.booked(at(TOMORROW, "09:00"))
    counter = await desk.counter()
    status, etag, plain = await full_pull(counter)
    assert status == 200
    url = f"/v1/counter/appointments?date={TOMORROW}"
    auth = {"Authorization": f"Bearer {counter.token}"}
    for _ in range(2):  # built, then kept
        async with counter.client.get(
            url, headers={**auth, "Accept-Encoding": "gzip, deflate"}, auto_decompress=False
        ) as resp:
            assert resp.status == 200 and resp.headers["Content-Encoding"] == "gzip"
            assert resp.headers["ETag"] == etag and "Accept-Encoding" in resp.headers["Vary"]
            assert gzip.decompress(await resp.read()) == plain
    for refused in ("gzip;q=0", "identity", "br", "*;q=0"):
        async with counter.client.get(
            url, headers={**auth, "Accept-Encoding": refused}, auto_decompress=False
        ) as resp:
            assert "Content-Encoding" not in resp.headers and await resp.read() == plain, refused
    async with counter.client.get(
        url, headers={**auth, "Accept-Encoding": "gzip", "If-None-Match": etag}, auto_decompress=False
    ) as resp:
        assert resp.status == 304 and resp.headers["ETag"] == etag
    async with counter.client.get(
        f"{url}&since=1", headers={**auth, "Accept-Encoding": "gzip"}, auto_decompress=False
    ) as resp:
        assert resp.status == 200 and "Content-Encoding" not in resp.headers


async def test_counters_pulling_a_changed_day_at_once_share_one_read_of_it(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    await desk.booked(at(TOMORROW, "09:00"))
    counter = await desk.counter()
    service = desk.services.appointments.desk
    loads, arrived = [], []
    release = asyncio.Event()
    day, cursor = service.day, service.cursor

    async def counted(*args: Any) -> Any:
        loads.append(args)
        await release.wait()  # a slow read: every pull arrives while it runs
        return await day(*args)

    async def arriving(*args: Any) -> Any:
        arrived.append(args)
        return await cursor(*args)

    monkeypatch.setattr(service, "day", counted)
    monkeypatch.setattr(service, "cursor", arriving)
    pulls = [asyncio.ensure_future(full_pull(counter, {"Accept-Encoding": "gzip"})) for _ in range(10)]
    for _ in range(500):
        await asyncio.sleep(0.01)
        if len(arrived) == 10:
            break
    await asyncio.sleep(0.05)
    release.set()
    answers = await asyncio.gather(*pulls)
    assert {status for status, _, _ in answers} == {200} and len({raw for _, _, raw in answers}) == 1
    assert len(loads) == 1
