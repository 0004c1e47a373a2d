"""Macao One Account's OAuth 2.0 token and userinfo endpoints, played locally."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.integrations.support import FakePartner


@dataclass
class FakeOneAccount(FakePartner):
    client_id: str = "mo-client"
    client_secret: str = "mo-secret"
    redirect_uri: str = "https://app.example/callback"
    # None, "slow", "error500", "garbage", "bad_request", "not_bearer", "userinfo_down"
    mode: str | None = None
    token_forms: list[dict[str, str]] = field(default_factory=list)
    userinfo_auth: list[str] = field(default_factory=list)
    _codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    _tokens: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__()

    def issue(self, sub: str, **claims: Any) -> str:
        """An authorisation code for a person with these userinfo claims."""
        code = secrets.token_hex(8)
        self._codes[code] = {"sub": sub} | claims
        return code

    def setup(self, app: web.Application) -> None:
        app.router.add_post("/oauth2/token", self.token)
        app.router.add_get("/oauth2/userinfo", self.userinfo)

    async def token(self, request: web.Request) -> web.StreamResponse:
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.token_forms.append(form)
        if self.mode == "slow":
            await self.stall()
        if self.mode == "error500":
            return web.Response(status=503, text="Service Unavailable")
        if self.mode == "garbage":
            return web.Response(text="<html>login</html>", content_type="text/html")
        if self.mode == "bad_request":
            return web.json_response({"error": "invalid_request"}, status=400)
        if (form.get("client_id"), form.get("client_secret")) != (self.client_id, self.client_secret):
            return web.json_response({"error": "invalid_client"}, status=401)
        if form.get("grant_type") != "authorization_code":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        person = self._codes.pop(form.get("code", ""), None)
        if person is None or form.get("redirect_uri") != self.redirect_uri:
            return web.json_response({"error": "invalid_grant"}, status=400)
        token = secrets.token_urlsafe(16)
        self._tokens[token] = person
        token_type = "MAC" if self.mode == "not_bearer" else "Bearer"
        return web.json_response({"access_token": token, "token_type": token_type, "expires_in": 600})

    async def userinfo(self, request: web.Request) -> web.StreamResponse:
        auth = request.headers.get("Authorization", "")
        self.userinfo_auth.append(auth)
        person = self._tokens.get(auth.removeprefix("Bearer "))
        if person is None or self.mode == "userinfo_down":
            return web.json_response({"error": "invalid_token"}, status=401)
        return web.json_response(person)
