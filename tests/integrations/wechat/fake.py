"""WeChat's jscode2session, played locally: issued codes work once, as on the real service."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.integrations.support import FakePartner


@dataclass
class Seen:
    query: dict[str, str]


@dataclass
class FakeWeChat(FakePartner):
    app_id: str = "wx-test-app"
    app_secret: str = "wx-test-secret"
    mode: str | None = (
        None  # None, "busy", "rate_limited", "error500", "garbage", "slow", "no_openid", "odd_errcode"
    )
    requests: list[Seen] = field(default_factory=list)
    session_keys: list[str] = field(default_factory=list)
    _codes: dict[str, dict[str, str]] = field(default_factory=dict)
    _used: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        super().__init__()

    def issue(self, openid: str, unionid: str | None = None) -> str:
        """A fresh login code, as wx.login() would hand the mini-program."""
        code = secrets.token_hex(8)
        self._codes[code] = {"openid": openid} | ({"unionid": unionid} if unionid else {})
        return code

    def setup(self, app: web.Application) -> None:
        app.router.add_get("/sns/jscode2session", self.jscode2session)

    async def jscode2session(self, request: web.Request) -> web.StreamResponse:
        query = dict(request.query)
        self.requests.append(Seen(query))
        if self.mode == "slow":
            await self.stall()
        if self.mode == "error500":
            return web.Response(status=500, text="<html>upstream error</html>")
        if self.mode == "garbage":
            return web.Response(text="<html>not json</html>", content_type="text/plain")
        return self._answer(self._result(query))

    def _result(self, query: dict[str, str]) -> dict[str, Any]:
        if self.mode == "odd_errcode":
            return {"errcode": [40029], "errmsg": "not how WeChat writes it"}
        if self.mode == "busy":
            return {"errcode": -1, "errmsg": "system error"}
        if self.mode == "rate_limited":
            return {"errcode": 45011, "errmsg": "api minute-quota reach limit"}
        if query.get("appid") != self.app_id or query.get("secret") != self.app_secret:
            return {"errcode": 40125, "errmsg": "invalid appsecret"}
        if query.get("grant_type") != "authorization_code":
            return {"errcode": 40002, "errmsg": "invalid grant_type"}
        code = query.get("js_code", "")
        if code in self._used:
            return {"errcode": 40163, "errmsg": "code been used"}
        if code not in self._codes:
            return {"errcode": 40029, "errmsg": "invalid code"}
        self._used.add(code)
        session_key = secrets.token_urlsafe(16)
        self.session_keys.append(session_key)
        if self.mode == "no_openid":
            return {"session_key": session_key}
        return {"session_key": session_key} | self._codes[code]

    @staticmethod
    def _answer(body: dict[str, Any]) -> web.Response:
        # WeChat labels its JSON text/plain; the adapter must not rely on the content type.
        return web.Response(text=json.dumps(body), content_type="text/plain")
