"""The console at a centre the applicant's data is sent to (Hengqin's video counters in Macao,
staffed from Hengqin): the control of the Hengqin walk-through in test_appointments.py, where the
data stays in Macao. Here the day list names each person (as text, never markup) and a typed
reference checks them in. At Hengqin itself the console asks for the number of the document shown
with the QR (the last test)."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.frontends.conftest import DESKTOP, TOMORROW, Site
from tests.privacy.conftest import MACAO_ID

NAME = 'Lee <img src=x onerror="window.pwned=1">'


@pytest.mark.parametrize("language", ["en", "zh-Hant"])
async def test_at_the_video_counters_the_console_names_the_person_and_a_typed_reference_checks_in(
    site: Site, language: str
) -> None:
    rider = await site.rider(f"mo-video-applicant-{language}", wallet=None)
    status, _ = await rider.post("/v1/me/consents", {"destination": "CN", "purpose": "appointment"})
    assert status in (200, 201)
    status, doc = await rider.post("/v1/me/documents", {**MACAO_ID, "holder_name": NAME})
    assert status == 201, doc
    status, booked = await rider.post(
        "/v1/appointments",
        {
            "centre_id": "macao_video_counters",
            "service_id": "hq_commercial_registration",
            "start": f"{TOMORROW.isoformat()}T10:00:00+08:00",
            "document_id": doc["id"],
        },
    )
    assert status == 201, booked
    await site.jump(24 * 3600)

    counter = await site.device("counter", "macao_video_counters")
    console = await site.page(language, viewport=DESKTOP)
    await console.goto(site.url(f"/console/?lang={language}#token={counter.token}"))
    row = console.locator(f"tr[data-reference='{booked['reference']}']")
    await expect(row).to_have_attribute("data-status", "booked")
    assert NAME in await row.inner_text()  # shown as text, not markup
    assert doc["number_masked"] in await row.inner_text()
    await expect(console.locator(".data-home")).to_have_count(0)
    await expect(console.locator(".document-check")).to_have_count(0)  # the name is there to check
    await expect(row.locator("[data-action=check-in]")).to_have_count(1)
    checkin = console.locator("input[name=checkin]")
    await checkin.fill(booked["reference"].lower())
    await checkin.press("Enter")
    await expect(console.locator(".checked-in")).to_have_attribute("data-queue-number", "1")
    await expect(row).to_have_attribute("data-status", "checked_in")
    assert await console.evaluate("window.pwned") is None


@pytest.mark.parametrize("language", ["en", "zh-Hans"])
async def test_at_hengqin_the_console_asks_for_the_document_number_with_the_qr(
    site: Site, language: str
) -> None:
    """Hengqin's data stays in Macao: the desk has no name to compare, and the QR checks in
    whoever holds it, so the console asks for the number of the document shown and sends it
    with the code. A wrong one is refused with the API's reason; after 3 the booking's check is
    locked and the console offers to check the person in after looking at the document."""
    rider = await site.rider(f"mo-hengqin-applicant-{language}", wallet=None)
    status, doc = await rider.post("/v1/me/documents", MACAO_ID)
    assert status == 201, doc
    status, booked = await rider.post(
        "/v1/appointments",
        {
            "centre_id": "hengqin_gasc",
            "service_id": "mo_commercial_registration",
            "start": f"{TOMORROW.isoformat()}T10:00:00+08:00",
            "document_id": doc["id"],
        },
    )
    assert status == 201, booked
    await site.jump(24 * 3600)

    counter = await site.device("counter", "hengqin_gasc")
    console = await site.page(language, viewport=DESKTOP)
    await console.goto(site.url(f"/console/?lang={language}#token={counter.token}"))
    row = console.locator(f"tr[data-reference='{booked['reference']}']")
    await expect(row).to_have_attribute("data-status", "booked")
    asked = console.locator(".checkin .document-check")
    await expect(asked).to_be_visible()
    assert await asked.locator("select[name=document_type]").input_value() == "macao_id"
    checkin = console.locator("input[name=checkin]")
    number = console.locator("input[name=document_number]")
    for i, code in enumerate(["document_mismatch"] * 3 + ["document_check_locked"]):
        await number.fill(f"1{i:05d}7(8)")  # the real number's mask, another person's number
        await checkin.fill(booked["qr"]["payload"])
        await checkin.press("Enter")
        await expect(console.locator(f".checkin .error[data-code={code}]")).to_be_visible()
        await expect(row).to_have_attribute("data-status", "booked")
    await expect(console.locator("[data-action=check-in-without-number]")).to_have_count(1)
    await number.fill(MACAO_ID["number"])  # the right number now changes nothing: locked
    await checkin.press("Enter")
    await expect(console.locator(".checkin .error[data-code=document_check_locked]")).to_be_visible()
    await console.locator("[data-action=check-in-without-number]").click()
    await expect(console.locator(".checked-in")).to_have_attribute("data-queue-number", "1")
    await expect(console.locator(".checked-in")).to_have_attribute("data-document", "")
    await expect(row).to_have_attribute("data-status", "checked_in")


async def test_at_hengqin_a_number_typed_for_one_person_is_never_sent_with_the_next_ones_qr(
    site: Site,
) -> None:
    """After a check-in that sent a typed number (refused here), the field is emptied: the next
    person's scanned QR waits for their own number instead of going out with the last one's,
    which would count a mismatch against them (and, three times over, lock their check)."""
    payloads = []
    for i, number in enumerate(["1234567(8)", "5123456(7)"]):
        rider = await site.rider(f"mo-hengqin-queue-{i}", wallet=None)
        status, doc = await rider.post("/v1/me/documents", {**MACAO_ID, "number": number})
        assert status == 201, doc
        status, booked = await rider.post(
            "/v1/appointments",
            {
                "centre_id": "hengqin_gasc",
                "service_id": "mo_commercial_registration",
                "start": f"{TOMORROW.isoformat()}T1{i}:00:00+08:00",
                "document_id": doc["id"],
            },
        )
        assert status == 201, booked
        payloads.append(booked["qr"]["payload"])
    await site.jump(24 * 3600)

    counter = await site.device("counter", "hengqin_gasc")
    console = await site.page("en", viewport=DESKTOP)
    await console.goto(site.url(f"/console/?lang=en#token={counter.token}"))
    checkin = console.locator("input[name=checkin]")
    number = console.locator("input[name=document_number]")
    await expect(number).to_be_visible()
    await number.fill("1000007(8)")  # mistyped for the first person
    await checkin.fill(payloads[0])
    await checkin.press("Enter")
    await expect(console.locator(".checkin .error[data-code=document_mismatch]")).to_be_visible()
    await expect(number).to_have_value("")
    await checkin.fill(payloads[1])  # the next person, before their number is typed
    await checkin.press("Enter")
    await expect(console.locator(".checkin .document-needed")).to_be_visible()
    await expect(console.locator(".checkin .error")).to_have_count(0)
    await number.fill("5123456(7)")
    await checkin.press("Enter")
    await expect(console.locator(".checked-in")).to_have_attribute("data-document", "match")
