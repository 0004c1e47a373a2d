"""Booking a ferry seat in the rider app, in Chromium: search, a document, the consent prompt
(declined once, then given), the hold's countdown, payment, the ticket's QR, cancellation with
the refund; then the record of the data sent, under My data."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import pytest
from playwright.async_api import expect

from tests.frontends.conftest import NOW, TODAY, Site, days, decode_qr
from tests.travel.conftest import HKID

TRANSFER = {
    "en": ("Shekou cross-boundary ferry", "Hong Kong → Mainland"),
    "zh-Hant": ("蛇口跨境客輪", "香港 → 內地"),
}
CONSENT_MESSAGE = {"en": "give that consent first", "zh-Hant": "請先給予同意", "zh-Hans": "请先给予同意"}


def shown(amount: dict) -> str:
    return f"{amount['amount'] / 100:,.2f}"


@pytest.mark.parametrize("language", ["en", "zh-Hant"])
async def test_book_a_ferry_seat_through_the_consent_prompt_pay_and_cancel(site: Site, language: str) -> None:
    rider = await site.rider(f"traveller-{language}", wallet="HKD")
    page = await site.page(language)
    await page.goto(site.url(f"/app/?view=travel&lang={language}#token={rider.token}"))

    await page.locator("select[name=origin]").select_option("sheung_wan")
    await page.locator("select[name=destination]").select_option("shekou")
    await page.locator("select[name=mode]").select_option("ferry")
    assert await page.locator("input[name=date]").input_value() == TODAY.isoformat()  # on the app's clock
    await page.locator("form.search button[type=submit]").click()
    departure = page.locator(f"li.departure[data-departure-id$='.{TODAY:%Y%m%d}.1245']")
    await expect(departure).to_be_visible()
    await page.locator("#results-title").evaluate("e => e.scrollIntoView({block: 'start'})")
    await site.shot(page, f"travel-search-{language}")
    await departure.locator("li.fare[data-fare-class=economy] [data-action=choose]").click()

    # No documents yet: the form is open. A Home Return Permit (an H number: data from Hong Kong).
    form = page.locator(".trip form.document-form")
    await form.locator("select[name=type]").select_option("home_return_permit")
    await form.locator("input[name=holder_name]").fill("CHAN Tai Man")
    await form.locator("input[name=number]").fill("H12345678")
    await form.locator("input[name=expires]").fill((NOW + days(5 * 365)).date().isoformat())
    await form.locator("button[type=submit]").click()
    passenger = page.locator(".trip input[name=passenger]")
    await expect(passenger).to_be_checked()
    assert "H12345678" not in await page.locator(".trip .passengers").inner_text()  # masked

    # The Shekou ferry is a mainland carrier: data from Hong Kong goes there only with consent.
    hold = page.locator(".trip [data-action=hold]")
    await hold.click()
    dialog = page.locator("dialog.dialog")
    await expect(dialog).to_be_visible()
    await site.shot(page, f"travel-consent-{language}")
    await dialog.locator("button:not(.primary)").click()
    refused = page.locator(".trip .error[data-code=consent_required]")
    await expect(refused).to_contain_text(CONSENT_MESSAGE[language])  # the API's own message
    await hold.click()
    await dialog.locator("button.primary").click()

    booking = page.locator(".trip article.booking")
    await expect(booking).to_have_attribute("data-status", "held")
    countdown = booking.locator(".countdown")
    _, held = await rider.get(f"/v1/travel/bookings/{await booking.get_attribute('data-booking-id')}")
    left = math.ceil((datetime.fromisoformat(held["expires_at"]) - site.clock.now()).total_seconds())
    assert 600 < left <= 900  # the carrier holds seats up to 15 minutes
    await expect(countdown).to_have_attribute("data-seconds", str(left))
    await site.advance(61)
    await expect(countdown).to_have_attribute("data-seconds", str(left - 61))
    await site.shot(page, f"travel-hold-{language}")

    await booking.locator("[data-action=pay]").click()
    await expect(booking).to_have_attribute("data-status", "confirmed")
    ticket = booking.locator("figure.ticket img[src^='blob:']")
    await expect(ticket).to_be_visible()
    booking_id = await booking.get_attribute("data-booking-id")
    status, stored = await rider.get(f"/v1/travel/bookings/{booking_id}")
    assert status == 200 and stored["status"] == "confirmed"
    await ticket.evaluate("img => img.scrollIntoView({block: 'center'})")  # clear of the tab bar
    assert decode_qr(await booking.locator("figure.ticket").screenshot()) == stored["tickets"][0]["payload"]
    assert shown(stored["charge"]) in await booking.inner_text()
    await expect(booking.locator(".payment-status")).to_have_attribute("data-payment-status", "charged")
    await site.shot(page, f"travel-ticket-{language}")

    await booking.locator("[data-action=cancel]").click()
    await dialog.locator("button.primary").click()
    await expect(booking).to_have_attribute("data-status", "cancelled")
    _, cancelled = await rider.get(f"/v1/travel/bookings/{booking_id}")
    assert 0 < cancelled["refund"]["amount"] < cancelled["charge"]["amount"]  # four hours out: a tier
    await expect(booking.locator(".refund-note")).to_contain_text(shown(cancelled["refund"]))

    # My data: the consent given on the way, and the record of what was sent to the carrier.
    await page.locator("nav.tabs [data-view=data]").click()
    consent = page.locator("li.consent[data-status=active]")
    await expect(consent).to_have_count(1)
    transfer = page.locator("li.transfer")
    await expect(transfer).to_have_count(1)
    assert "H12345678" not in await transfer.inner_text()
    # Whom it went to and from where to where, in the page's language.
    await expect(transfer).to_contain_text(TRANSFER[language][0])
    await expect(transfer).to_contain_text(TRANSFER[language][1])
    await transfer.evaluate("li => li.scrollIntoView({block: 'center'})")
    await site.shot(page, f"mydata-{language}")

    # Withdrawing the consent says what had already gone to the mainland, and to whom.
    await consent.locator("[data-action=withdraw]").click()
    await dialog.locator("button.primary").click()
    sent = page.locator("dialog.dialog .already-sent li[data-recipient=shekou_ferry]")
    await expect(sent).to_be_visible()
    await page.locator("dialog.dialog button.primary").click()
    await expect(page.locator("li.consent[data-status=withdrawn]")).to_have_count(1)


ROUTE = {
    "en": ("HZMB Hong Kong Port", "HZMB Macao Port"),
    "zh-Hant": ("港珠澳大橋香港口岸", "港珠澳大橋澳門口岸"),
}


@pytest.mark.parametrize("language", ["en", "zh-Hant"])
async def test_the_bookings_list_says_when_each_trip_leaves_and_from_where_to_where(
    site: Site, language: str
) -> None:
    rider = await site.rider(f"lister-{language}", wallet="HKD")
    status, doc = await rider.post(
        "/v1/me/documents", {**HKID, "expires": (NOW + days(5 * 365)).date().isoformat()}
    )
    assert status == 201, doc
    _, found = await rider.get(
        "/v1/travel/departures?origin=hzmb_hk_port&destination=hzmb_macao_port&limit=20"
    )
    departure = next(
        d for d in found["items"] if datetime.fromisoformat(d["departs_at"]) > NOW + timedelta(hours=3)
    )
    status, held = await rider.post(
        "/v1/travel/bookings",
        {
            "departure_id": departure["id"],
            "fare_class": "standard",
            "passengers": [{"document_id": doc["id"]}],
        },
    )
    assert status == 201, held

    page = await site.page(language)
    await page.goto(site.url(f"/app/?view=travel&lang={language}#token={rider.token}"))
    listed = page.locator(f".bookings article.booking[data-booking-id='{held['id']}']")
    itinerary = listed.locator(".itinerary")
    await expect(itinerary).to_contain_text(departure["departs_at"][11:16])  # the port's wall clock
    await expect(itinerary).to_contain_text(f"{ROUTE[language][0]} → {ROUTE[language][1]}")
