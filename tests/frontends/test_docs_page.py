"""/docs under its Content-Security-Policy: Swagger UI still draws every operation, and the
browser refuses nothing (a refusal is a console message "Refused to ...")."""

from __future__ import annotations

from typing import Any

from tests.frontends.conftest import DESKTOP, Site


async def test_the_docs_page_works_under_its_policy(site: Site) -> None:
    page = await site.page("en", DESKTOP)
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    refused: list[Any] = []
    page.on("requestfailed", lambda request: refused.append(request.url))
    response = await page.goto(site.url("/docs"))
    assert "script-src 'self'" in response.headers["content-security-policy"]
    await page.clock.run_for(1000)
    await page.wait_for_selector(".opblock-summary-path", timeout=15_000)
    paths = await page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/v1/auth/sessions" in p for p in paths)
    assert [m for m in console if "Refused" in m or "Content Security Policy" in m] == []
    assert refused == []
