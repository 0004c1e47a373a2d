"""Notices speak the rider's language (issue 11, review finding 7): the booking request's
Accept-Language is kept with the appointment, a reschedule keeps it unless its own request names
one, and reminders, desk-closed notices and agency refusals go to the notifier in it. An
appointment booked before languages were kept is told in its centre's jurisdiction's language."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from bayaffairs.db.queries import appointments as q
from bayaffairs.i18n import LANGUAGES
from tests.appointments.conftest import DAY_AFTER, TOMORROW, Desk, at, due
from tests.integrations.webhook_notifier.fake_relay import FakeRelay

pytestmark = pytest.mark.at_two_instants

# The Hengqin centre's name as config gives it, to tell the scripts apart in the sent text.
HENGQIN_HANT = "橫琴"
HENGQIN_HANS = "横琴"


async def reminder_of(desk: Desk, relay: FakeRelay, body: dict[str, Any]) -> dict[str, Any]:
    """Bring the clock to the appointment's reminder and send it; what the relay received."""
    due(desk, body["start"])
    await desk.services.appointments.reminders.send_due()
    sent = [d.body for d in relay.deliveries if d.key == f"reminder:{body['id']}"]
    assert len(sent) == 1, relay.deliveries
    return sent[0]


async def test_a_booking_in_hong_kong_chinese_is_reminded_in_traditional_chinese(
    pushed: Desk, relay: FakeRelay
) -> None:
    body = await pushed.booked(at(TOMORROW, "14:00"), language="zh-HK")
    assert body["language"] == "zh-Hant"
    sent = await reminder_of(pushed, relay, body)
    assert sent["language"] == "zh-Hant"
    assert sent["subject"].startswith("預約提醒:")
    assert HENGQIN_HANT in sent["body"] and "預約編號" in sent["body"] and body["reference"] in sent["body"]


async def test_a_booking_in_mainland_chinese_is_reminded_in_simplified_chinese(
    pushed: Desk, relay: FakeRelay
) -> None:
    body = await pushed.booked(at(TOMORROW, "14:00"), language="zh-CN,zh;q=0.9,en;q=0.5")
    sent = await reminder_of(pushed, relay, body)
    assert sent["language"] == "zh-Hans"
    assert sent["subject"].startswith("预约提醒:") and HENGQIN_HANS in sent["body"]


@pytest.mark.parametrize("header", ["fr-FR", "pt-MO, fr;q=0.8", "de;q=1, *;q=0.1"])
async def test_a_language_we_lack_falls_back_to_english(pushed: Desk, relay: FakeRelay, header: str) -> None:
    body = await pushed.booked(at(TOMORROW, "14:00"), language=header)
    assert body["language"] == "en"
    sent = await reminder_of(pushed, relay, body)
    assert sent["language"] == "en"
    assert sent["subject"].startswith("Appointment reminder: ") and "reference" in sent["body"]


BAD_HEADERS = [
    "",
    ",,,;;;",
    "zh-HK;q=",
    "zh-HK;q=abc",
    "zh-HK;q=nan",
    "zh-HK;q=1e999",
    ";q=1",
    "-",
    "zh-" * 2000,  # long, but within what the server reads of a header
    "zh-HK;" + "q=0.5;" * 500,
    "\u00e9\u00e8;q=\u00bd",
]


@pytest.mark.parametrize("header", BAD_HEADERS, ids=range(len(BAD_HEADERS)))
async def test_a_bad_accept_language_never_fails_a_booking_or_a_reschedule(desk: Desk, header: str) -> None:
    """Whatever the header holds, what does not parse is ignored: the booking and its
    reschedule go through (never a 500), in a language we have."""
    status, body = await desk.book(at(TOMORROW, "10:00"), language=header)
    assert status == 201, body
    assert body["language"] in LANGUAGES
    status, moved = await desk.rider.post(
        f"/v1/appointments/{body['id']}/reschedule",
        {"start": at(TOMORROW, "11:00")},
        headers={"Accept-Language": header},
    )
    assert status == 201, moved
    assert moved["language"] == body["language"]


async def test_a_reschedule_keeps_the_language_unless_its_request_names_one(
    pushed: Desk, relay: FakeRelay
) -> None:
    body = await pushed.booked(at(TOMORROW, "14:00"), language="zh-MO")
    path = f"/v1/appointments/{body['id']}/reschedule"
    # Without Accept-Language, and with only a language we lack: the kept one holds.
    status, moved = await pushed.rider.post(path, {"start": at(TOMORROW, "15:00")})
    assert status == 201 and moved["language"] == "zh-Hant", moved
    status, again = await pushed.rider.post(
        f"/v1/appointments/{moved['id']}/reschedule",
        {"start": at(TOMORROW, "15:30")},
        headers={"Accept-Language": "fr-FR"},
    )
    assert status == 201 and again["language"] == "zh-Hant", again
    sent = await reminder_of(pushed, relay, again)
    assert sent["language"] == "zh-Hant" and sent["subject"].startswith("預約提醒:")
    # A reschedule that names one of ours changes it.
    later = await pushed.booked(at(DAY_AFTER, "10:00"), language="zh-HK")
    status, english = await pushed.rider.post(
        f"/v1/appointments/{later['id']}/reschedule",
        {"start": at(DAY_AFTER, "11:00")},
        headers={"Accept-Language": "en-GB"},
    )
    assert status == 201 and english["language"] == "en", english
    sent = await reminder_of(pushed, relay, english)
    assert sent["language"] == "en" and sent["subject"].startswith("Appointment reminder: ")


async def test_an_agency_refusal_is_told_in_the_riders_language(pushed: Desk, relay: FakeRelay) -> None:
    body = await pushed.booked(at(DAY_AFTER, "14:00"), language="zh-CN")
    outbox = pushed.services.appointments.outbox
    async with outbox.db.transaction() as conn:
        booked = await q.get(conn, body["id"], lock=True)
        assert booked is not None
        cancelled = await q.update(conn, booked.id, status="cancelled", cancel_reason="重复申请")
        await outbox._tell_rider(conn, cancelled, "重复申请", pushed.clock.now())
    await pushed.services.appointments.notices.drain()
    [sent] = [d.body for d in relay.deliveries if d.key == f"agency_refused:{body['id']}"]
    assert sent["language"] == "zh-Hans"
    assert sent["subject"].startswith("预约未获接纳:")
    assert "预约已取消" in sent["body"] and "重复申请" in sent["body"] and body["reference"] in sent["body"]


async def test_a_desk_closed_notice_offers_the_reschedule_in_the_riders_language(
    pushed: Desk, relay: FakeRelay
) -> None:
    body = await pushed.booked(at(TOMORROW, "14:00"), language="zh-Hant-HK")
    counter = await pushed.counter()
    status, block = await counter.post(
        "/v1/counter/blocks",
        {"start": at(TOMORROW, "13:00"), "end": at(TOMORROW, "18:00"), "reason": "颱風"},
    )
    assert status == 201, block
    await pushed.services.appointments.notices.drain()
    [sent] = [d.body for d in relay.deliveries if d.key.endswith(f":{body['id']}")]
    assert sent["language"] == "zh-Hant"
    assert sent["subject"].startswith("請另選時間:") and "請在應用程式內免費改期" in sent["body"]


async def test_an_appointment_booked_before_languages_were_kept_is_told_in_its_centres_language(
    pushed: Desk, relay: FakeRelay, pg: Any
) -> None:
    """Hengqin's centre belongs to Macao's agency (config/jurisdictions/macao.toml), whose first
    language is zh-Hant: its riders are Macao residents, though the building is in Guangdong."""
    body = await pushed.booked(at(TOMORROW, "14:00"), language="en")
    await pg.execute("UPDATE appointments SET language = NULL WHERE id = $1", body["id"])
    status, shown = await pushed.rider.get(f"/v1/appointments/{body['id']}")
    assert status == 200 and shown["language"] == "zh-Hant", shown
    sent = await reminder_of(pushed, relay, body)
    assert sent["language"] == "zh-Hant" and sent["subject"].startswith("預約提醒:")


async def test_without_a_kept_language_each_agencys_centres_use_its_jurisdictions_first(
    desk: Desk, pg: Any
) -> None:
    """Hong Kong's and Macao's centres zh-Hant, Guangdong's zh-Hans, wherever the building
    stands (Hong Kong's cross-boundary counters in Shenzhen serve Hong Kong residents); an agency
    no longer configured, English."""
    body = await desk.booked(at(TOMORROW, "10:00"))
    async with desk.services.appointments.booking.db.acquire() as conn:
        booked = await q.get(conn, body["id"])
    assert booked is not None and booked.language == "en"  # no Accept-Language: the API's English
    catalogue = desk.services.appointments.catalogue
    legacy = dataclasses.replace(booked, language=None)
    expected = {
        "macao_hengqin_services": "zh-Hant",
        "hk_cross_boundary": "zh-Hant",
        "guangdong_services": "zh-Hans",
        "gone_agency": "en",
    }
    for agency_id, language in expected.items():
        found = catalogue.notice_language(dataclasses.replace(legacy, agency_id=agency_id))
        assert found == language, agency_id
