"""Headers every answer carries: nosniff everywhere; no-store where a token or personal data is in
the answer; a Content-Security-Policy on /docs that allows only its own assets."""

from __future__ import annotations

import re

import pytest

from tests.support import Api

PUBLIC_PATHS = [
    "/healthz",
    "/v1/regions",
    "/openapi.json",
    "/docs",
    "/docs/assets/swagger-ui.css",
    "/docs/assets/docs.js",
    "/app/",
    "/metrics",
    "/no/such/route",
    "/v1/me",  # 401
]


@pytest.mark.parametrize("path", PUBLIC_PATHS)
async def test_every_answer_says_nosniff(api: Api, path: str) -> None:
    async with api.client.get(path) as resp:
        assert resp.headers.get("X-Content-Type-Options") == "nosniff", (path, resp.status)


async def test_a_405_and_a_413_say_nosniff_too(api: Api) -> None:
    async with api.client.delete("/v1/regions") as resp:
        assert (resp.status, resp.headers.get("X-Content-Type-Options")) == (405, "nosniff")
    async with api.client.post("/v1/auth/sessions", data=b"x" * 2_000_000) as resp:
        assert (resp.status, resp.headers.get("X-Content-Type-Options")) == (413, "nosniff")


async def test_an_answer_holding_a_token_is_not_stored(api: Api) -> None:
    async with api.client.post("/v1/auth/sessions", json={"provider": "dev", "code": "store-me-not"}) as resp:
        assert resp.status == 201
        assert resp.headers["Cache-Control"] == "no-store"


async def test_answers_to_a_credential_are_not_stored_errors_included(api: Api) -> None:
    rider = await api.sign_in("private-person")
    headers = {"Authorization": f"Bearer {rider.token}"}
    for path, status in (("/v1/me", 200), ("/v1/me/export", 200), ("/v1/travel/bookings/bkg_none", 404)):
        async with api.client.get(path, headers=headers) as resp:
            assert (resp.status, resp.headers.get("Cache-Control")) == (status, "no-store"), path


async def test_public_answers_keep_their_own_caching(api: Api) -> None:
    async with api.client.get("/v1/regions") as resp:
        assert resp.headers["Cache-Control"] == "public, max-age=300"


async def test_the_docs_page_allows_only_its_own_assets(api: Api) -> None:
    async with api.client.get("/docs") as resp:
        policy = resp.headers["Content-Security-Policy"]
        page = await resp.text()
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";") if d.strip())
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert "unsafe" not in policy and "http" not in policy and "*" not in policy
    # Nothing inline for the policy to refuse: every script and style is a file of its own.
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page) == []
    assert "<style" not in page


async def test_the_docs_script_is_a_file_of_its_own(api: Api) -> None:
    async with api.client.get("/docs/assets/docs.js") as resp:
        assert resp.status == 200
        assert resp.content_type == "text/javascript"
        assert "SwaggerUIBundle" in await resp.text()
