"""Booking, rescheduling, cancelling and reading appointments through the API."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.appointments.conftest import (
    BY_VIDEO,
    COMMERCIAL,
    DAY_AFTER,
    HENGQIN,
    SOCIAL,
    TODAY,
    TOMORROW,
    VIDEO,
    Desk,
    at,
)
from tests.support import next_weekday

pytestmark = pytest.mark.at_two_instants

SUNDAY = next_weekday(TODAY, "sun")
CLOSED = next_weekday(TODAY + timedelta(days=14), "thu")  # closed by the test (Desk.close)
BEYOND_WINDOW = next_weekday(TODAY + timedelta(days=61), "mon")  # more than 60 days ahead


async def test_services_and_centres_come_from_config_in_three_languages(desk: Desk) -> None:
    status, body = await desk.api.get("/v1/services?jurisdiction=macao")
    assert status == 200
    # Macao's seven services at the Hengqin centre (and, apart, Hengqin's at the video counters in
    # Macao and the "澳政易" kiosks' entry).
    assert len([i for i in body["items"] if i["centres"] == [HENGQIN]]) == 7
    status, hant = await desk.api.get("/v1/services?jurisdiction=MO", headers={"Accept-Language": "zh-Hant"})
    assert {i["name"] for i in hant["items"]} >= {"商事登記", "社保", "公證", "不動產登記", "商標註冊"}
    status, centres = await desk.api.get("/v1/centres")
    hengqin = next(c for c in centres["items"] if c["id"] == HENGQIN)
    assert hengqin["time_zone"] == "Asia/Shanghai" and hengqin["opening_hours"]["mon"][0] == "09:00-12:00"
    assert "macao_video_counters" in desk.services.directory.scopes("counter")


async def test_a_booking_has_a_reference_a_signed_qr_and_takes_a_place(desk: Desk) -> None:
    before = await desk.slots(TOMORROW)
    body = await desk.booked(at(TOMORROW, "09:30"))
    assert body["reference"].startswith("HQ-") and len(body["reference"]) == 10
    assert body["qr"]["png_url"] == f"/v1/appointments/{body['id']}.png"
    after = await desk.slots(TOMORROW)
    changed = [(b["remaining"], a["remaining"]) for b, a in zip(before, after, strict=True) if b != a]
    assert changed == [(3, 2)]
    status, png = await desk.rider.get(body["qr"]["png_url"])
    assert status == 200 and png[:8] == b"\x89PNG\r\n\x1a\n"


async def test_the_same_idempotency_key_gives_the_first_answer_and_one_booking(desk: Desk, pg: Any) -> None:
    headers = {"Idempotency-Key": "book-1"}
    body = {
        "centre_id": HENGQIN,
        "service_id": COMMERCIAL,
        "start": at(TOMORROW, "09:00"),
        "document_id": await desk.own_document(desk.rider),
    }
    first = await desk.rider.post("/v1/appointments", body, headers=headers)
    again = await desk.rider.post("/v1/appointments", body, headers=headers)
    assert first == again and first[0] == 201
    assert await pg.fetchval("SELECT count(*) FROM appointments") == 1
    status, _ = await desk.rider.post(
        "/v1/appointments", {**body, "start": at(TOMORROW, "09:30")}, headers=headers
    )
    assert status == 422


@pytest.mark.parametrize(
    ("start", "code"),
    [
        (at(TOMORROW, "09:10"), "not_slot_boundary"),
        (at(TOMORROW, "07:00"), "outside_opening_hours"),
        (at(TOMORROW, "12:30"), "outside_opening_hours"),
        (at(SUNDAY, "09:00"), "centre_closed"),
        (at(CLOSED, "09:00"), "centre_closed"),
        (at(TODAY, "14:00"), "outside_booking_window"),
        (at(BEYOND_WINDOW, "09:00"), "outside_booking_window"),
    ],
)
async def test_a_start_that_cannot_be_booked_is_400_with_the_reason(
    desk: Desk, start: str, code: str
) -> None:
    desk.close(CLOSED)
    status, body = await desk.book(start)
    assert status == 400, body
    assert body["error"]["code"] == code


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"centre_id": HENGQIN, "service_id": COMMERCIAL},
        {"centre_id": HENGQIN, "service_id": COMMERCIAL, "start": at(TOMORROW, "09:00")[:-6]},  # no offset
        {"centre_id": HENGQIN, "service_id": COMMERCIAL, "start": "tomorrow"},
        {"centre_id": HENGQIN, "service_id": COMMERCIAL, "start": 12},
        {"centre_id": ["x"], "service_id": COMMERCIAL, "start": at(TOMORROW, "09:00")},
        {"centre_id": HENGQIN, "service_id": COMMERCIAL, "start": at(TOMORROW, "09:00"), "extra": 1},
        {"centre_id": HENGQIN, "service_id": COMMERCIAL, "start": at(TOMORROW, "09:00"), "document_id": ""},
    ],
)
async def test_malformed_bookings_are_400_never_500(desk: Desk, body: dict[str, Any]) -> None:
    status, answer = await desk.rider.post("/v1/appointments", body)
    assert status == 400, answer
    assert answer["error"]["code"] == "invalid_request"


async def test_unknown_ids_are_404_and_a_service_elsewhere_is_400(desk: Desk) -> None:
    for body, code in (
        ({"centre_id": "nowhere", "service_id": COMMERCIAL}, "centre_not_found"),
        ({"centre_id": HENGQIN, "service_id": "nothing"}, "service_not_found"),
        (
            {"centre_id": HENGQIN, "service_id": COMMERCIAL, "document_id": "doc_missing"},
            "document_not_found",
        ),
    ):
        status, answer = await desk.rider.post("/v1/appointments", {"start": at(TOMORROW, "09:00"), **body})
        assert (status, answer["error"]["code"]) == (404, code)
    status, answer = await desk.book(at(TOMORROW, "09:00"), service="hq_social_insurance")
    assert (status, answer["error"]["code"]) == (400, "service_not_offered")
    for path in (
        "/v1/appointments/apt_00000000000000000000000000",
        f"/v1/centres/nowhere/slots?service=x&date={TOMORROW}",
    ):
        status, answer = await desk.rider.get(path)
        assert status == 404, answer


async def test_a_rider_holds_at_most_the_services_limit(desk: Desk) -> None:
    await desk.booked(at(TOMORROW, "09:00"), SOCIAL)
    status, body = await desk.book(at(TOMORROW, "09:15"), SOCIAL)
    assert (status, body["error"]["code"]) == (400, "rider_limit_reached")


async def test_the_consent_message_names_the_place_and_purpose_in_the_callers_language(video: Desk) -> None:
    """A client shows the API's message as it is: codes like CN or appointment read badly. At
    the video counters, where the data goes to Hengqin's staff (at Hengqin it stays in Macao)."""
    stranger = await video.another_rider("no-consent-yet", consent=None)
    document = await video.own_document(stranger)
    body = {
        "centre_id": VIDEO,
        "service_id": BY_VIDEO,
        "start": at(TOMORROW, "09:00"),
        "document_id": document,
    }
    messages = {}
    for language in ("en", "zh-Hant", "zh-Hans"):
        status, answer = await stranger.post("/v1/appointments", body, headers={"Accept-Language": language})
        assert status == 403, answer
        assert answer["error"]["details"]["destination"] == "CN"  # codes stay in the details
        messages[language] = answer["error"]["message"]
    assert messages == {
        "en": "Personal data would be sent to the Mainland for counter appointments: "
        "give that consent first.",
        "zh-Hant": "個人資料將傳送至內地（辦事預約）：請先給予同意。",
        "zh-Hans": "个人信息将传送至内地（办事预约）：请先给予同意。",
    }


async def test_without_consent_nothing_is_booked_and_with_it_the_transfer_is_recorded(
    video: Desk, pg: Any
) -> None:
    """At the video counters (MO -> CN); at Hengqin nothing crosses (test_data_home.py)."""
    stranger = await video.another_rider("no-consent", consent=None)
    status, body = await video.book(at(TOMORROW, "09:00"), rider=stranger)
    assert (status, body["error"]["code"]) == (403, "consent_required")
    assert await pg.fetchval("SELECT count(*) FROM appointments") == 0
    booked = await video.booked(at(TOMORROW, "09:00"))
    status, transfers = await video.rider.get("/v1/me/data-transfers")
    [record] = transfers["items"]
    assert (record["origin"], record["destination"], record["recipient"]) == (
        "MO",
        "CN",
        "hengqin_remote_counters",
    )
    assert record["fields"] == ["holder_name", "number_masked"] and record["reference"] == booked["id"]


async def test_another_rider_cannot_see_or_change_my_appointment(desk: Desk) -> None:
    body = await desk.booked(at(TOMORROW, "09:00"))
    other = await desk.another_rider("someone-else")
    for method, path in (
        ("GET", f"/v1/appointments/{body['id']}"),
        ("GET", f"/v1/appointments/{body['id']}.ics"),
        ("GET", f"/v1/appointments/{body['id']}.png"),
        ("POST", f"/v1/appointments/{body['id']}/cancellation"),
    ):
        status, answer = await other.call(method, path)
        assert status == 404, (path, answer)
    status, _ = await other.post(
        f"/v1/appointments/{body['id']}/reschedule", {"start": at(TOMORROW, "10:00")}
    )
    assert status == 404
    status, page = await other.get("/v1/appointments")
    assert page["items"] == []


async def test_reschedule_frees_the_old_slot_and_cancellation_frees_the_new(desk: Desk) -> None:
    body = await desk.booked(at(TOMORROW, "09:00"))
    status, moved = await desk.rider.post(
        f"/v1/appointments/{body['id']}/reschedule", {"start": at(DAY_AFTER, "10:00")}
    )
    assert status == 201, moved
    assert moved["rescheduled_from"] == body["id"] and moved["qr"]["payload"] != body["qr"]["payload"]
    status, old = await desk.rider.get(f"/v1/appointments/{body['id']}")
    assert (old["status"], old["rescheduled_to"], old["qr"]) == ("rescheduled", moved["id"], None)
    assert (await desk.slots(TOMORROW))[0]["remaining"] == 3
    assert (
        next(s for s in await desk.slots(DAY_AFTER) if s["start"] == at(DAY_AFTER, "10:00"))["remaining"] == 2
    )
    status, cancelled = await desk.rider.post(f"/v1/appointments/{moved['id']}/cancellation")
    assert (status, cancelled["status"]) == (200, "cancelled")
    desk.clock.advance(minutes=30)  # the cancellation cooldown (see test_cooldown.py)
    assert all(s["remaining"] == 3 for s in await desk.slots(DAY_AFTER))
    status, again = await desk.rider.post(
        f"/v1/appointments/{moved['id']}/reschedule", {"start": at(DAY_AFTER, "11:00")}
    )
    assert (status, again["error"]["code"]) == (409, "appointment_not_active")


async def test_the_ics_file_is_a_proper_calendar(desk: Desk) -> None:
    body = await desk.booked(at(TOMORROW, "09:00"))
    status, raw = await desk.rider.get(f"/v1/appointments/{body['id']}.ics")
    assert status == 200
    text = raw.decode()
    assert text.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n") and text.endswith("END:VCALENDAR\r\n")
    assert f"UID:{body['id']}@" in text
    assert f"DTSTART:{TOMORROW:%Y%m%d}T010000Z" in text and f"DTEND:{TOMORROW:%Y%m%d}T013000Z" in text
    assert f"DTSTAMP:{desk.clock.now():%Y%m%dT%H%M%SZ}" in text
    unfolded = text.replace("\r\n ", "")
    assert "LOCATION:Hengqin Government Affairs Service Centre\\, Hengqin Government" in unfolded
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))


async def test_slots_for_sixty_days_come_back_at_once(desk: Desk) -> None:
    desk.close(CLOSED)
    status, body = await desk.api.get(
        f"/v1/centres/{HENGQIN}/slots?service={COMMERCIAL}&from={TOMORROW}&days=60"
    )
    assert status == 200
    days = {s["start"][:10] for s in body["items"]}
    assert {TOMORROW.isoformat(), (SUNDAY + timedelta(days=1)).isoformat()} <= days
    assert SUNDAY.isoformat() not in days and CLOSED.isoformat() not in days
    assert len(body["items"]) > 400
    for query in (f"&from={TOMORROW}&days=90", "", f"&date={TOMORROW}&days=3", "&date=yesterday"):
        status, err = await desk.api.get(f"/v1/centres/{HENGQIN}/slots?service={COMMERCIAL}{query}")
        assert (status, err["error"]["code"]) == (400, "invalid_request"), query
