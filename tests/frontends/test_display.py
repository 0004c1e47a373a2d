"""The hall display takes the centre's display credential only: a counter token (which checks
people in and sees their names) is refused by the screen the public walks up to, and not kept."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.frontends.conftest import DESKTOP, Site

REFUSED = {"en": "display token", "zh-Hant": "顯示屏憑證"}


@pytest.mark.parametrize("language", ["en", "zh-Hant"])
async def test_the_hall_display_refuses_a_counter_token_and_keeps_nothing(site: Site, language: str) -> None:
    counter = await site.device("counter", "hengqin_gasc")
    hall = await site.page(language, viewport=DESKTOP)
    asked: list[str] = []
    hall.on("request", lambda request: asked.append(request.url))
    await hall.goto(site.url(f"/console/display?lang={language}#token={counter.token}"))

    refusal = hall.locator(".board-status[data-code=not_display_token]")
    await expect(refusal).to_contain_text(REFUSED[language])
    await expect(hall.locator("form.board-signin input[name=token]")).to_be_visible()
    await expect(hall.locator(".board .latest")).to_have_count(0)
    assert not [url for url in asked if "/v1/counter/display" in url]  # the queue was never read with it
    assert await hall.evaluate("localStorage.getItem('bya.display.token')") is None
    assert await hall.evaluate("sessionStorage.getItem('bya.display.token')") is None
    assert "token" not in hall.url

    # Its own display token, typed in, is taken.
    screen = await site.device("display", "hengqin_gasc")
    await hall.locator("form.board-signin input[name=token]").fill(screen.token)
    await hall.locator("form.board-signin button[type=submit]").click()
    await expect(hall.locator(".board .latest")).to_be_visible()
    assert await hall.evaluate("localStorage.getItem('bya.display.token')") == screen.token
