"""The console at a centre the applicant's data is sent to (Hengqin's video counters in Macao,
staffed from Hengqin): the control of the Hengqin walk-through in test_appointments.py, where the
data stays in Macao. Here the day list names each person (as text, never markup) and a typed
reference checks them in."""

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
    await expect(row.locator("[data-action=check-in]")).to_have_count(1)
    checkin = console.locator("input[name=checkin]")
    await checkin.fill(booked["reference"].lower())
    await checkin.press("Enter")
    await expect(console.locator(".checked-in")).to_have_attribute("data-queue-number", "1")
    await expect(row).to_have_attribute("data-status", "checked_in")
    assert await console.evaluate("window.pwned") is None
