"""Times are the Bay Area's (UTC+8), whatever zone the device is set to: a visitor's phone still
on London time, a counter PC kept on UTC. The suite's instant is 10:00 in the Bay Area, 02:00 UTC."""

from __future__ import annotations

from playwright.async_api import expect

from tests.frontends.conftest import DESKTOP, Site


async def test_my_data_shows_when_a_consent_was_given_in_bay_area_time(site: Site) -> None:
    rider = await site.rider("visitor")
    status, body = await rider.post("/v1/me/consents", {"destination": "CN", "purpose": "travel_booking"})
    assert status in (200, 201), body
    page = await site.page("en", zone="Europe/London")
    await page.goto(site.url(f"/app/?view=data&lang=en#token={rider.token}"))
    consent = page.locator("li.consent[data-status=active]")
    await expect(consent).to_contain_text("10:00")
    assert "02:00" not in await consent.inner_text()


async def test_the_console_says_when_its_list_was_current_in_the_centres_time(site: Site) -> None:
    counter = await site.device("counter", "hengqin_gasc")
    console = await site.page("zh-Hans", viewport=DESKTOP, zone="UTC")
    await console.goto(site.url(f"/console/?lang=zh-Hans#token={counter.token}"))
    updated = console.locator(".updated")
    await expect(updated).to_contain_text("10:00")
    assert "02:00" not in await updated.inner_text()
