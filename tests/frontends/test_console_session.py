"""A counter token that stops working mid-shift (revoked, expired): the console goes back to
sign-in saying why, in the console's language and with the API's stable code (what the clerk
reads out to support), and forgets the token; signed in again, the desk is where it was."""

from __future__ import annotations

from playwright.async_api import expect

from tests.frontends.conftest import DESKTOP, Site

REVOKED = {"en": "revoked", "zh-Hant": "撤銷"}


async def test_a_token_revoked_mid_shift_signs_out_with_the_reason_and_its_code(site: Site) -> None:
    issued = await site.services.credentials.issue("counter", "hengqin_gasc")
    counter = site.api.as_(issued.token)
    status, walk_in = await counter.post("/v1/counter/walk-ins", {"service_id": "mo_social_insurance"})
    assert status == 201, walk_in
    console = await site.page("zh-Hant", viewport=DESKTOP)
    await console.goto(site.url(f"/console/?lang=zh-Hant#token={issued.token}"))
    await console.locator("select[name=desk]").select_option("A3")
    await console.locator("[data-action=call-next]").click()
    await expect(console.locator(".now-serving")).to_have_attribute("data-reference", walk_in["reference"])

    await site.services.credentials.revoke(issued.credential.id)
    await site.advance(6)  # the next pull of the day list
    refused = console.locator("form.signin .error[data-code=token_revoked]")
    await expect(refused).to_contain_text(REVOKED["zh-Hant"])
    await expect(refused.locator(".code")).to_have_text("token_revoked")
    assert await console.evaluate("sessionStorage.getItem('bya.counter.token')") is None

    fresh = await site.device("counter", "hengqin_gasc")
    await console.locator("form.signin input[name=token]").fill(fresh.token)
    await console.locator("form.signin button[type=submit]").click()
    await expect(console.locator(".now-serving")).to_have_attribute("data-reference", walk_in["reference"])
