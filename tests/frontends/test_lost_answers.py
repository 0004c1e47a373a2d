"""An answer lost on the way back (a phone on a slow network, a counter's flaky Wi-Fi): the
request reached the service and did its work, the page saw only a network error. Pressing again
must get that first answer (the same Idempotency-Key and body), not do the thing twice.

The loss is made by the browser: the request is sent on to the service (route.fetch, with the
page's own headers) and its answer thrown away (route.abort)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from playwright.async_api import expect

from tests.frontends.conftest import DESKTOP, NOW, Site, days
from tests.travel.conftest import HKID


async def lose_the_first_answer(page: Any, pattern: str) -> list[dict[str, str]]:
    """The first request to `pattern` reaches the service; its answer never reaches the page.
    Returns the headers of every request sent there."""
    sent: list[dict[str, str]] = []

    async def handle(route: Any) -> None:
        sent.append(await route.request.all_headers())
        if len(sent) == 1:
            await route.fetch()  # the service does the work...
            await route.abort("internetdisconnected")  # ...and the page never hears of it
        else:
            await route.continue_()

    await page.route(pattern, handle)
    return sent


async def test_calling_again_after_a_lost_answer_calls_the_same_person(site: Site) -> None:
    counter = await site.device("counter", "hengqin_gasc")
    issued = []
    for _ in range(2):
        status, walk_in = await counter.post("/v1/counter/walk-ins", {"service_id": "mo_social_insurance"})
        assert status == 201, walk_in
        issued.append(walk_in)
    console = await site.page("en", viewport=DESKTOP)
    sent = await lose_the_first_answer(console, "**/v1/counter/queue/next")
    await console.goto(site.url(f"/console/?lang=en#token={counter.token}"))
    await expect(console.locator(f"tr[data-reference='{issued[1]['reference']}']")).to_have_count(1)

    await console.locator("select[name=desk]").select_option("A3")  # a desk that serves them
    call = console.locator("[data-action=call-next]")
    await call.click()
    await expect(console.locator(".desk .error[data-code=network_error]")).to_be_visible()
    await call.click()
    serving = console.locator(".now-serving")
    await expect(serving).to_have_attribute("data-reference", issued[0]["reference"])

    assert len(sent) == 2 and sent[0]["idempotency-key"] == sent[1]["idempotency-key"]
    _, day = await counter.get("/v1/counter/appointments")
    called = [a["reference"] for a in day["items"] if a["status"] == "called"]
    assert called == [issued[0]["reference"]]  # one person called, not two

    # The answer came: the next press is a new call, with a new key.
    await console.locator("[data-action=served]").click()
    await expect(serving).to_have_count(0)
    await call.click()
    await expect(serving).to_have_attribute("data-reference", issued[1]["reference"])
    assert len(sent) == 3 and sent[2]["idempotency-key"] != sent[0]["idempotency-key"]


async def test_holding_again_after_a_lost_answer_shows_the_hold_made(site: Site) -> None:
    rider = await site.rider("lost-hold", wallet="HKD")
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

    page = await site.page("zh-Hant")
    sent = await lose_the_first_answer(page, "**/v1/travel/bookings")
    await page.goto(site.url(f"/app/?view=travel&lang=zh-Hant#token={rider.token}"))
    await page.locator("select[name=origin]").select_option("hzmb_hk_port")
    await page.locator("select[name=destination]").select_option("hzmb_macao_port")
    await page.locator("form.search button[type=submit]").click()
    chosen = page.locator(f"li.departure[data-departure-id='{departure['id']}']")
    await chosen.locator("li.fare[data-fare-class=standard] [data-action=choose]").click()
    await expect(page.locator(".trip input[name=passenger]")).to_be_checked()

    hold = page.locator(".trip [data-action=hold]")
    await hold.click()
    await expect(page.locator(".trip .error[data-code=network_error]")).to_be_visible()
    await hold.click()
    booking = page.locator(".trip article.booking")
    await expect(booking).to_have_attribute("data-status", "held")

    posted = [h for h in sent if "idempotency-key" in h]
    assert len(posted) == 2 and posted[0]["idempotency-key"] == posted[1]["idempotency-key"]
    _, mine = await rider.get("/v1/travel/bookings")
    assert [b["id"] for b in mine["items"]] == [await booking.get_attribute("data-booking-id")]
