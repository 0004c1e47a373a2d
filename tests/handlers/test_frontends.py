"""The frontends' files as the service serves them: headers that keep a token and the page to
themselves, nothing fetched from elsewhere, no markup built from strings, every word in three
languages. (What the pages do is tested in a browser: tests/frontends/.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bayaffairs.handlers.frontends import WEB
from tests.support import Api

PAGES = ["/app/", "/console/", "/console/display"]
SCRIPTS = sorted(WEB.glob("*/*.js"))


@pytest.mark.parametrize("path", PAGES)
async def test_pages_are_served_with_a_strict_policy(api: Api, path: str) -> None:
    async with api.client.get(path) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
        csp = resp.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert resp.headers["Referrer-Policy"] == "no-referrer"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        page = await resp.text()
    assert '<meta name="referrer" content="no-referrer">' in page
    for asset in re.findall(r'(?:src|href)="(/[^"]+)"', page):
        status, _ = await api.get(asset)
        assert status == 200, asset


async def test_only_the_console_may_use_the_camera(api: Api) -> None:
    async with api.client.get("/app/") as resp:
        assert "camera=()" in resp.headers["Permissions-Policy"]
    async with api.client.get("/console/") as resp:
        assert "camera=(self)" in resp.headers["Permissions-Policy"]
    async with api.client.get("/console/display") as resp:  # a screen in the hall reads no QR
        assert "camera=()" in resp.headers["Permissions-Policy"]


async def test_modules_are_javascript_in_utf8(api: Api) -> None:
    async with api.client.get("/app/strings.js") as resp:
        assert resp.headers["Content-Type"] == "text/javascript; charset=utf-8"
        assert "乘車碼" in await resp.text()


@pytest.mark.parametrize(
    "path", ["/app/nothing.js", "/app/..%2fapp.py", "/ui/..%2f..%2ffrontends.py", "/console/x.html", "/ui/"]
)
async def test_anything_else_is_the_apis_404(api: Api, path: str) -> None:
    status, body = await api.get(path)
    assert status == 404 and body["error"]["code"] == "route_not_found", body


async def test_the_bare_path_redirects_and_keeps_the_deep_link(api: Api) -> None:
    async with api.client.get("/app?view=travel&lang=zh-Hant", allow_redirects=False) as resp:
        assert resp.status == 302
        assert resp.headers["Location"] == "/app/?view=travel&lang=zh-Hant"


def test_nothing_is_loaded_from_another_site() -> None:
    """The service runs offline: no CDN, font or analytics address in any file."""
    for path in WEB.glob("*/*"):
        text = path.read_text(encoding="utf-8")
        text = text.replace('xmlns="http://www.w3.org/2000/svg"', "")
        assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", text), path


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_markup_is_built_from_strings(path: Path) -> None:
    """Names and messages from the API become text nodes (shared/dom.js), never markup."""
    code = path.read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in code, f"{path.name} uses {sink}"


def _keys(strings: Path) -> dict[str, set[str]]:
    """The keys of each language block (`const en = {...}`) of a strings module."""
    blocks = re.split(r"^const (\w+) = \{$", strings.read_text(encoding="utf-8"), flags=re.M)
    return {
        name: set(re.findall(r"^  '?([\w.]+)'?: ", body, flags=re.M))
        for name, body in zip(blocks[1::2], blocks[2::2], strict=True)
    }


@pytest.mark.parametrize("folder", ["app", "console"])
def test_every_word_of_the_page_is_there_in_three_languages(folder: str) -> None:
    keys = _keys(WEB / folder / "strings.js")
    assert set(keys) == {"en", "zhHant", "zhHans"}
    assert keys["en"] == keys["zhHant"] == keys["zhHans"]
    used: set[str] = set()
    for path in (WEB / folder).glob("*.js"):
        used |= set(re.findall(r"\bt\('([\w.]+)'", path.read_text(encoding="utf-8")))
    assert used - keys["en"] == set()
