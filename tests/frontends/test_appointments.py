"""A Hengqin appointment in the rider app, then the counter console checking it in and calling
it, in Chromium; each in English and one Chinese variant. Hengqin's data stays in Macao: no
consent is asked, the console shows no name, and only the booking's QR checks the person in."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import expect

from tests.frontends.conftest import DESKTOP, PHONE, TOMORROW, Site, decode_qr
from tests.support import FAR_AHEAD

TOMORROW_10 = f"{TOMORROW.isoformat()}T10:00:00+08:00"  # bookings open one day ahead
TOMORROW_1030 = f"{TOMORROW.isoformat()}T10:30:00+08:00"
# Markup in a name must stay text in both the app and the console.
NAME = 'Chan <img src=x onerror="window.pwned=1">'


@pytest.mark.parametrize("language", ["en", "zh-Hans"])
async def test_book_at_hengqin_then_the_counter_checks_in_and_calls(site: Site, language: str) -> None:
    rider = await site.rider(f"applicant-{language}", wallet=None, display_name=NAME)
    # Macao's services have a quota per person: the applicant's document (preselected).
    macao_id = {
        "type": "macao_id",
        "holder_name": NAME,
        "number": "1234567(8)",
        "issuing": "MO",
        "expires": FAR_AHEAD,
    }
    status, added = await rider.post("/v1/me/documents", macao_id)
    assert status == 201, added
    page = await site.page(language)
    await page.goto(site.url(f"/app/?view=appointments&lang={language}#token={rider.token}"))
    assert await page.locator("select[name=jurisdiction]").input_value() == "macao"
    service = page.locator("li.service[data-service-id=mo_commercial_registration]")
    await service.locator("[data-action=pick-service]").click()
    assert await page.locator("select[name=centre]").input_value() == "hengqin_gasc"
    await expect(page.locator(".day[aria-pressed=true]")).to_have_attribute("data-day", TOMORROW.isoformat())
    await page.locator(".calendar").evaluate("e => e.scrollIntoView({block: 'start'})")
    await site.shot(page, f"appointments-calendar-{language}")
    await page.locator(f"button.slot[data-start='{TOMORROW_10}']").click()
    # Nothing of the applicant's goes from Macao to the Hengqin centre: booked without a consent.
    booked = page.locator(".booking-area article.appointment")
    await expect(booked).to_have_attribute("data-status", "booked")
    await expect(page.locator("dialog.dialog")).to_have_count(0)
    _, consents = await rider.get("/v1/me/consents")
    assert consents["items"] == []
    first = await booked.get_attribute("data-reference")
    await expect(booked.locator("img.qr[src^='blob:']")).to_be_visible()

    # The calendar file needs the token too: fetched, then saved.
    async with page.expect_download() as waiting:
        await booked.locator("[data-action=ics]").click()
    download = await waiting.value
    calendar = _read(await download.path())
    assert "BEGIN:VCALENDAR" in calendar and first in calendar

    # Rescheduled half an hour later: a new reference, the old one is moved.
    await booked.locator("[data-action=reschedule]").click()
    await page.locator(f"button.slot[data-start='{TOMORROW_1030}']").click()
    moved = page.locator(".booking-area article.appointment")
    await expect(moved).to_have_attribute("data-status", "booked")
    reference = await moved.get_attribute("data-reference")
    assert reference and reference != first
    await expect(page.locator(f".appointments article[data-reference='{first}']")).to_have_attribute(
        "data-status", "rescheduled"
    )
    # The QR image is fetched (with the token) and shown from a blob: wait for it, then for it to
    # be decoded, before the screenshot (under load the alt text showed in its place).
    await expect(moved.locator("img.qr[src^='blob:']")).to_be_visible()
    await moved.locator("img.qr").evaluate("img => img.decode()")
    await moved.locator("img.qr").evaluate("img => img.scrollIntoView({block: 'center'})")
    await site.shot(page, f"appointment-{language}")
    scanned = decode_qr(await moved.locator("figure.appt-qr").screenshot())  # checked in below

    # The next morning, at the counter.
    await site.jump(24 * 3600)
    counter = await site.device("counter", "hengqin_gasc")
    console = await site.page(language, viewport=DESKTOP if language == "en" else PHONE)
    await console.goto(site.url(f"/console/?lang={language}#token={counter.token}"))
    assert "token" not in console.url
    row = console.locator(f"tr[data-reference='{reference}']")
    await expect(row).to_have_attribute("data-status", "booked")
    await expect(console.locator(".data-home")).to_be_visible()
    assert "Chan" not in await console.locator("body").inner_text()  # no name at this centre
    await expect(row.locator("[data-action=check-in]")).to_have_count(0)
    checkin = console.locator("input[name=checkin]")
    # The QR checks in whoever holds it: the console asks for the number of the document shown
    # and sends nothing until it is typed.
    await checkin.fill(scanned)
    await checkin.press("Enter")
    await expect(console.locator(".checkin .document-needed")).to_be_visible()
    await expect(row).to_have_attribute("data-status", "booked")
    await console.locator("input[name=document_number]").fill(macao_id["number"])
    # A typed reference is refused here, with the API's reason; the scanner types the QR it read
    # off the rider's screen, and that (with the document's number) checks the person in.
    await checkin.fill(reference.lower())
    await checkin.press("Enter")
    await expect(console.locator(".checkin .error[data-code=qr_required]")).to_be_visible()
    await expect(row).to_have_attribute("data-status", "booked")
    await checkin.fill(scanned)
    await checkin.press("Enter")
    await expect(console.locator(".checked-in")).to_have_attribute("data-queue-number", "1")
    await expect(console.locator(".checked-in")).to_have_attribute("data-document", "match")
    await expect(row).to_have_attribute("data-status", "checked_in")

    await console.locator("select[name=desk]").select_option("A1")
    await console.locator("[data-action=call-next]").click()
    serving = console.locator(".now-serving")
    await expect(serving).to_have_attribute("data-reference", reference)
    await expect(serving.locator(".big-number")).to_have_text("1")
    await expect(serving.locator(".check-document")).to_be_visible()
    await expect(row).to_have_attribute("data-status", "called")
    await site.shot(console, f"console-{language}")

    # The hall screen, signed in with the centre's display token: the number and the desk only.
    screen = await site.device("display", "hengqin_gasc")
    hall = await site.page(language, viewport=DESKTOP)
    await hall.goto(site.url(f"/console/display?lang={language}#token={screen.token}"))
    assert "token" not in hall.url
    latest = hall.locator(".latest[data-number]")
    await expect(latest).to_have_attribute("data-number", "1")
    await expect(latest).to_have_attribute("data-desk", "A1")
    await expect(hall.locator("tr[data-desk=A1]")).to_have_attribute("data-status", "called")
    assert "Chan" not in await hall.locator("body").inner_text() and reference not in await hall.content()
    await site.shot(hall, f"display-{language}")
    kept = await hall.evaluate("localStorage.getItem('bya.display.token')")
    assert kept == screen.token  # a display token is kept across reloads of the hall screen

    # The rider's app hears of the call on its next pull.
    await page.locator("[data-action=refresh-mine]").click()
    await expect(page.locator(f".appointments article[data-reference='{reference}']")).to_have_attribute(
        "data-status", "called"
    )

    await serving.locator("[data-action=served]").click()
    await expect(row).to_have_attribute("data-status", "served")
    await expect(console.locator(".serving .empty")).to_be_visible()
    await site.advance(3)  # the hall screen's next pull
    await expect(hall.locator("tr[data-desk=A1]")).to_have_attribute("data-status", "served")
    await expect(hall.locator(".latest[data-number]")).to_have_count(0)
    for p in (page, console, hall):
        assert await p.evaluate("window.pwned") is None


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")
