"""WeChat mini-program login: trade the `wx.login()` code for the rider's openid/unionid.

Partner API: GET {base_url}/sns/jscode2session. WeChat answers JSON, sometimes labelled
text/plain, with `errcode` != 0 on failure. The request URL carries the app secret, so no
exception raised here chains the aiohttp error (its message may contain the URL).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import Schema, fields, validate

from bayaffairs.adapters.protocols import IdentityProvider, LoginRejected, VerifiedIdentity
from bayaffairs.errors import PartnerError
from bayaffairs.integrations.remote import RemotePartner, timeout_field

# errcodes that mean "this code is no good" rather than "WeChat or our config is broken".
REJECTED = {
    40029: "invalid code",
    40163: "code already used",
    40226: "user blocked by WeChat risk control",
}


class Settings(Schema):
    class Meta:
        unknown = "raise"

    base_url = fields.String(
        load_default="https://api.weixin.qq.com", validate=validate.URL(require_tld=False)
    )
    app_id = fields.String(required=True, validate=validate.Length(min=1))
    app_secret = fields.String(required=True, validate=validate.Length(min=1))
    timeout_seconds = timeout_field()


class WeChatLogin(RemotePartner, IdentityProvider):
    """Identity provider for WeChat mini-programs; subject is the unionid when WeChat sends one
    (stable across the company's apps), else the openid."""

    Settings = Settings

    async def exchange(self, code: str, claims: Mapping[str, Any]) -> VerifiedIdentity:
        if not code:
            raise LoginRejected("empty code")
        answer = await self._code2session(code)
        errcode = answer.get("errcode", 0)
        if isinstance(errcode, int) and errcode in REJECTED:
            raise LoginRejected(f"wechat {errcode}: {REJECTED[errcode]}")
        if errcode != 0:
            raise self._failure(f"errcode {errcode!r}: {answer.get('errmsg', '')!s:.200}")
        openid, unionid = answer.get("openid"), answer.get("unionid")
        if not isinstance(openid, str) or not openid:
            raise self._failure("answer without openid")
        if isinstance(unionid, str) and unionid:
            return VerifiedIdentity(subject=unionid, attributes={"openid": openid})
        return VerifiedIdentity(subject=openid)

    async def _code2session(self, code: str) -> dict[str, Any]:
        params = {
            "appid": self.settings["app_id"],
            "secret": self.settings["app_secret"],
            "js_code": code,
            "grant_type": "authorization_code",
        }
        url = self.settings["base_url"].rstrip("/") + "/sns/jscode2session"
        status, body = await self.request("GET", url, params=params)
        if status != 200:
            raise self._failure(f"HTTP {status}")
        return self.answer(body)

    def _failure(self, reason: str) -> PartnerError:
        return self.failure(f"jscode2session failed: {reason}")
