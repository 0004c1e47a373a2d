"""The rider app's ride code, end to end in Chromium: sign in, the QR on the screen, a gate
scanning that screen, the journey in the app; each in English and one Chinese variant."""

from __future__ import annotations

import re
from datetime import UTC

import pytest
from playwright.async_api import expect

from tests.frontends.conftest import DESKTOP, Site, decode_qr

TAB = {"en": "Ride code", "zh-Hans": "乘车码", "zh-Hant": "乘車碼"}
STUDENT = {"en": "Student", "zh-Hans": "学生"}


def money(amount: dict) -> str:
    return f"{amount['amount'] / 100:.2f}"


async def scan(site: Site, gate, payload: str, station: str, direction: str) -> dict:
    status, body = await gate.post(
        "/v1/gate/scans",
        {
            "payload": payload,
            "gate_id": f"g-{station}",
            "station": station,
            "direction": direction,
            "scanned_at": site.clock.now().astimezone(UTC).isoformat(),
        },
    )
    assert status == 200, body
    return body


@pytest.mark.parametrize("language", ["en", "zh-Hans"])
async def test_sign_in_show_the_code_scan_it_from_the_screen_and_see_the_journey(
    site: Site, language: str
) -> None:
    page = await site.page(language)
    await page.goto(site.url(f"/app/?view=ride&city=shenzhen&lang={language}"))
    await site.shot(page, f"signin-{language}")
    dev = page.locator("form[data-provider=dev]")
    await dev.locator("input[name=code]").fill(f"student-{language}")
    await dev.locator("select[name=category]").select_option("student")
    await dev.locator("button[type=submit]").press("Enter")  # the keyboard works too

    # A new rider has no wallet: the page asks for one before the first code.
    wallet = page.locator("form.wallet-form")
    await wallet.locator("select[name=currency]").select_option("HKD")
    await wallet.locator("button[type=submit]").click()

    qr = page.locator(".code-card img.qr[src^='blob:']")
    await expect(qr).to_be_visible()
    await expect(page.locator("nav.tabs [aria-current=page]")).to_have_text(TAB[language])
    countdown = page.locator(".code-card .countdown")
    await expect(countdown).to_have_attribute("data-seconds", "60")
    first_code = await qr.get_attribute("data-code-id")

    # The gate reads the code off the screen, as it would off the phone.
    payload = decode_qr(await site.shot(page, f"ride-{language}"))
    gate = await site.device("gate", "shenzhen_metro")
    tap_in = await scan(site, gate, payload, "luohu", "in")
    assert tap_in["decision"] == "open", tap_in

    # Ten seconds on, the countdown has moved; the code is refreshed before refresh_after (30 s).
    await site.advance(10)
    await expect(countdown).to_have_attribute("data-seconds", "50")
    await site.advance(19)
    await expect(qr).not_to_have_attribute("data-code-id", first_code or "")
    # A fresh code: its request reached the app in the 28th or the 29th second.
    await expect(countdown).to_have_attribute("data-seconds", re.compile(r"^(59|60)$"))

    # Leaving: the refreshed code taps out, and the priced journey shows in the app.
    await site.jump(600)
    await expect(countdown).to_have_attribute("data-seconds", "60")
    exit_payload = decode_qr(await page.locator(".qr-frame").screenshot())
    assert exit_payload != payload
    tap_out = await scan(site, gate, exit_payload, "shopping_park", "out")
    assert tap_out["decision"] == "open" and tap_out["journey_id"] == tap_in["journey_id"], tap_out
    await page.locator("[data-action=refresh-journeys]").click()
    journey = page.locator(f"li.journey[data-journey-id='{tap_in['journey_id']}']")
    await expect(journey).to_have_attribute("data-status", "completed")

    token = await page.evaluate("localStorage.getItem('bya.rider.token')")
    status, listed = await site.api.as_(token).get("/v1/journeys")
    assert status == 200
    shown = listed["items"][0]
    assert shown["id"] == tap_in["journey_id"] and shown["category"] == "student"
    assert shown["fare"] == tap_out["fare"] and shown["fare"]["currency"] == "CNY"
    text = await journey.inner_text()
    assert f"{shown['fare']['amount'] / 100:.2f}" in text  # the fare the gate answered, as the app shows it
    # How the fare came about: the full fare less the student's concession.
    assert shown["concession"]["amount"] > 0 and shown["discounts"] == []
    assert shown["base_fare"]["amount"] - shown["concession"]["amount"] == shown["fare"]["amount"]
    await expect(journey.locator("dd[data-part=base_fare]")).to_contain_text(money(shown["base_fare"]))
    await expect(journey.locator("dt[data-part=concession]")).to_contain_text(STUDENT[language])
    await expect(journey.locator("dd[data-part=concession]")).to_have_text(
        re.compile(rf"^−\D*{re.escape(money(shown['concession']))}$")
    )
    await expect(journey.locator("dd[data-part=fare]")).to_contain_text(money(shown["fare"]))
    assert f"{shown['charge']['amount'] / 100:.2f}" in text and shown["charge"]["currency"] == "HKD"
    await journey.scroll_into_view_if_needed()
    await site.shot(page, f"journeys-{language}")


async def test_a_token_in_the_fragment_signs_in_and_leaves_the_address(site: Site) -> None:
    rider = await site.rider("deep-linked")
    page = await site.page("zh-Hant", viewport=DESKTOP)  # no lang in the link: the browser's decides
    await page.goto(site.url(f"/app/?view=ride&city=guangzhou#token={rider.token}"))
    await expect(page.locator(".code-card img.qr[src^='blob:']")).to_be_visible()
    await site.shot(page, "ride-desktop-zh-Hant")
    assert "#" not in page.url and "token" not in page.url
    assert await page.locator("select[name=city]").input_value() == "guangzhou"
    await expect(page.locator("nav.tabs [aria-current=page]")).to_have_text(TAB["zh-Hant"])
    assert await page.evaluate("document.documentElement.lang") == "zh-Hant"


async def test_an_expired_session_goes_back_to_sign_in_with_the_apis_message(site: Site) -> None:
    rider = await site.rider("short-lived")
    status, _ = await rider.delete("/v1/auth/sessions/current")
    assert status == 204
    page = await site.page("zh-Hans")
    await page.goto(site.url(f"/app/?lang=zh-Hans#token={rider.token}"))
    notice = page.locator(".notice")
    await expect(notice).to_be_visible()
    assert "撤销" in await notice.inner_text()  # token_revoked, in the page's language
    await expect(notice).to_have_attribute("data-code", "token_revoked")  # and its code, for support
    await expect(notice.locator(".code")).to_have_text("token_revoked")
    await expect(page.locator("form[data-provider=dev]")).to_be_visible()
    assert await page.evaluate("localStorage.getItem('bya.rider.token')") is None


async def test_a_code_that_expired_offline_comes_back_by_itself_when_the_network_does(site: Site) -> None:
    """At the gate with no signal: the shown code runs out, the page says so (the network error,
    in the rider's language, with its code) and, once the network is back, shows a fresh code
    without the rider having to find the retry button."""
    rider = await site.rider("underground")
    page = await site.page("zh-Hant")
    await page.goto(site.url(f"/app/?view=ride&city=shenzhen#token={rider.token}"))
    qr = page.locator(".code-card img.qr[src^='blob:']")
    await expect(qr).to_be_visible()
    first = await qr.get_attribute("data-code-id")

    await page.route("**/v1/ride-codes", lambda route: route.abort("internetdisconnected"))
    await site.advance(61)
    await expect(page.locator(".qr-frame")).to_have_class(re.compile(r"\bexpired\b"))
    await expect(page.locator(".code-status .error[data-code=network_error]")).to_contain_text("網絡")
    await site.advance(10)  # still no network: the page keeps trying, and says so
    await expect(page.locator(".code-status .error[data-code=network_error]")).to_be_visible()

    await page.unroute("**/v1/ride-codes")
    await site.advance(11)
    await expect(qr).to_be_visible()
    await expect(qr).not_to_have_attribute("data-code-id", first or "")
    await expect(page.locator(".qr-frame")).not_to_have_class(re.compile(r"\bexpired\b"))
    await expect(page.locator(".code-card .countdown")).to_have_attribute(
        "data-seconds", re.compile(r"^(5\d|60)$")
    )
