"""The rider app and the counter console in headless Chromium (Debian's package, driven by
Playwright's Python client pointed at /usr/bin/chromium; no browser is ever downloaded).

Both clocks are the test's: the app runs on a MovableClock and every page gets Playwright's
fake clock installed at the same instant and paused, so countdowns and refreshes move only
when a test moves them (`Site.advance`), never with the wall clock.
"""

from __future__ import annotations

import io
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from PIL import Image

from bayaffairs.handlers.keys import SERVICES
from tests.conftest import AppFactory
from tests.support import HONG_KONG, START, Api, MovableClock

CHROMIUM = os.environ.get("BAYAFFAIRS_CHROMIUM", "/usr/bin/chromium")
# What headless Chromium needs on these machines: no sandbox as root, and no calls home (the
# network is closed; without these it retries Google's hosts at every start).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    # A camera made up by the browser (a test pattern), granted without a prompt: the console's
    # scanner gets a real MediaStream whose tracks a test can watch end.
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]
PHONE = {"width": 375, "height": 667}
DESKTOP = {"width": 1280, "height": 800}
# The suite's instant (tests/support.py: a weekday, 10:00 in the Bay Area); every date below is
# relative to it. TODAY and TOMORROW are the Bay Area's calendar days (UTC+8 everywhere here).
NOW = START
TODAY = START.astimezone(HONG_KONG).date()
TOMORROW = TODAY + timedelta(days=1)
# Set BAYAFFAIRS_SCREENSHOTS to a folder (docs/screenshots) to keep the screens the tests pass.
GALLERY = os.environ.get("BAYAFFAIRS_SCREENSHOTS")
LOCALES = {"en": "en-GB", "zh-Hant": "zh-HK", "zh-Hans": "zh-CN"}


def _keep(png: bytes, name: str) -> None:
    """Save a screen for the README: a palette PNG, a fraction of the screenshot's size."""
    folder = Path(GALLERY or ".")
    folder.mkdir(parents=True, exist_ok=True)
    Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=96).save(folder / f"{name}.png", optimize=True)


def _require_chromium() -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: ./scripts/test installs Debian's chromium (or set BAYAFFAIRS_CHROMIUM)"
        )


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    _require_chromium()
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


def decode_qr(png: bytes) -> str:
    """The text of the one QR code in a screenshot."""
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    if len(found) != 1:
        Path("/tmp/fe-undecoded.png").write_bytes(png)  # noqa: S108
    assert len(found) == 1, f"{len(found)} codes in the screenshot"
    return str(found[0].text)


@dataclass
class Site:
    """The real app behind a real port, its clock, and pages on the same clock."""

    api: Api
    services: Any
    clock: MovableClock
    browser: Any
    base: str
    pages: list[Any] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.base + path

    async def page(
        self, language: str, viewport: dict[str, int] | None = None, *, zone: str = "Asia/Hong_Kong"
    ) -> Any:
        """A fresh browser profile whose browser prefers `language`, on the test's clock; `zone`
        is the device's own time zone (a visitor's phone, a counter PC kept on UTC)."""
        context = await self.browser.new_context(
            viewport=viewport or PHONE,
            locale=LOCALES[language],
            timezone_id=zone,
            accept_downloads=True,
            service_workers="block",
        )
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.errors = errors
        # Installed a moment early (an installed clock runs), then paused at the app's instant.
        await page.clock.install(time=self.clock.now() - timedelta(seconds=5))
        await page.clock.pause_at(self.clock.now())
        self.pages.append(page)
        return page

    async def advance(self, seconds: int) -> None:
        """Let time pass, a second at a time on the app's clock and every page's, so whatever
        a page asks the app meanwhile is answered on the same clock it runs on."""
        for _ in range(seconds):
            self.clock.advance(seconds=1)
            for page in self.open_pages():
                await page.clock.run_for(1000)

    async def jump(self, seconds: int) -> None:
        """Skip ahead, as a phone put away in a pocket: each page's due timers fire once."""
        self.clock.advance(seconds=seconds)
        for page in self.open_pages():
            await page.clock.fast_forward(seconds * 1000)

    def open_pages(self) -> list[Any]:
        return [page for page in self.pages if not page.is_closed()]

    async def shot(self, page: Any, name: str, *, full_page: bool = False) -> bytes:
        """A screenshot (kept in the gallery folder when one is named)."""
        png = await page.screenshot(full_page=full_page, animations="disabled", caret="hide")
        if GALLERY:
            _keep(png, name)
        return png

    async def rider(self, handle: str, *, wallet: str | None = "HKD", **claims: Any) -> Api:
        rider = await self.api.sign_in(handle, **claims)
        if wallet:
            status, body = await rider.put("/v1/me/wallet", {"currency": wallet, "provider": "demo"})
            assert status == 200, body
        return rider

    async def device(self, kind: str, scope: str) -> Api:
        return self.api.as_((await self.services.credentials.issue(kind, scope)).token)


@pytest.fixture
async def site(make_api: AppFactory, clock: MovableClock, browser: Any) -> AsyncIterator[Site]:
    clock._now = NOW
    api = await make_api()
    services = api.client.server.app[SERVICES]
    for issuer in ("ride_codes", "tickets", "appointments"):
        await services.transit.issuer_keys.rotate(issuer)
    base = str(api.client.make_url("")).rstrip("/")
    site = Site(api, services, clock, browser, base)
    yield site
    for page in site.pages:
        errors = page.errors
        await page.context.close()
        assert errors == [], f"script errors in the page: {errors}"


def days(n: float) -> timedelta:
    return timedelta(days=n)
