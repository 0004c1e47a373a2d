"""iAM Smart's getToken and getProfile, played locally.

Every request's HMAC signature is recomputed from the headers and the raw body with the
client secret; a bad one is refused with HTTP 401 and recorded, so tests can assert on it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.integrations.support import FakePartner


def expected_signature(secret: str, headers: dict[str, str], body: bytes) -> str:
    """The documented signature, written out again independently of the adapter."""
    text = headers["clientID"] + headers["signatureMethod"] + headers["timestamp"] + headers["nonce"]
    digest = hmac.new(secret.encode(), text.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    signature_valid: bool


@dataclass
class FakeIAmSmart(FakePartner):
    client_id: str = "iam-client"
    client_secret: str = "iam-secret"
    # None, "slow", "error500", "garbage", "not_envelope", "profile_down"
    mode: str | None = None
    requests: list[Seen] = field(default_factory=list)
    _codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    _tokens: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__()

    def issue(self, open_id: str, **profile: Any) -> str:
        """An authorisation code for a person with this profile (enName, chName, birthDate)."""
        code = secrets.token_hex(8)
        self._codes[code] = {"openID": open_id, "profile": profile}
        return code

    def setup(self, app: web.Application) -> None:
        app.router.add_post("/api/v1/auth/getToken", self.get_token)
        app.router.add_post("/api/v1/account/getProfile", self.get_profile)

    async def _checked(self, request: web.Request) -> dict[str, Any] | None:
        raw = await request.read()
        headers = {k: request.headers.get(k, "") for k in _SIGNED_HEADERS}
        valid = (
            headers["clientID"] == self.client_id
            and headers["signatureMethod"] == "HmacSHA256"
            and hmac.compare_digest(
                headers["signature"], expected_signature(self.client_secret, headers, raw)
            )
        )
        body = json.loads(raw)
        self.requests.append(Seen(request.path, headers, body, valid))
        return body if valid else None

    async def get_token(self, request: web.Request) -> web.StreamResponse:
        body = await self._checked(request)
        if self.mode == "slow":
            await self.stall()
        if self.mode == "error500":
            return web.Response(status=500, text="Internal Server Error")
        if self.mode == "garbage":
            return web.Response(text="<html>maintenance</html>")
        if self.mode == "not_envelope":
            return web.json_response({"status": "ok"})
        if body is None:
            return web.json_response({"code": "D40100", "message": "invalid signature"}, status=401)
        person = self._codes.pop(str(body.get("code")), None)
        if person is None or body.get("grantType") != "authorization_code":
            return _envelope("D40001", "invalid code")
        token = secrets.token_hex(12)
        self._tokens[token] = person
        content = {"accessToken": token, "openID": person["openID"], "tokenExpiresIn": 600}
        return _envelope("D00000", "SUCCESS", content)

    async def get_profile(self, request: web.Request) -> web.StreamResponse:
        body = await self._checked(request)
        if body is None:
            return web.json_response({"code": "D40100", "message": "invalid signature"}, status=401)
        person = self._tokens.get(str(body.get("accessToken")))
        if person is None or self.mode == "profile_down":
            return _envelope("D40002", "invalid access token")
        return _envelope("D00000", "SUCCESS", person["profile"])


_SIGNED_HEADERS = ("clientID", "signatureMethod", "timestamp", "nonce", "signature")


def _envelope(code: str, message: str, content: Any = None) -> web.Response:
    return web.json_response({"code": code, "message": message, "content": content})
