"""The Alipay open-platform gateway, played locally for alipay.system.oauth.token.

It checks each request's RSA2 signature with the app's public key, as the real gateway does,
and signs its answers with "Alipay's" private key over the exact text of the response member.
That text is spaced the way no JSON serializer would, so an adapter that re-serialises before
verifying fails.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.integrations.support import FakePartner

RESPONSE_KEY = "alipay_system_oauth_token_response"


def signing_string(form: dict[str, str]) -> str:
    """The documented request signing string, written out again independently of the adapter."""
    return "&".join(f"{k}={form[k]}" for k in sorted(form) if k != "sign" and form[k])


def rsa2_valid(public_key: rsa.RSAPublicKey, text: str, signature: str) -> bool:
    try:
        public_key.verify(base64.b64decode(signature), text.encode(), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def rsa2_sign(private_key: rsa.RSAPrivateKey, text: str) -> str:
    signature = private_key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


@dataclass
class Seen:
    form: dict[str, str]
    signature_valid: bool


@dataclass
class FakeAlipay(FakePartner):
    app_id: str
    app_public_key: rsa.RSAPublicKey
    alipay_private_key: rsa.RSAPrivateKey
    # None, "unsigned", "altered", "error500", "garbage", "slow", "no_subject", "odd_sub_code"
    mode: str | None = None
    requests: list[Seen] = field(default_factory=list)
    _codes: dict[str, dict[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__()

    def issue(self, **ids: str) -> str:
        """An auth code for a rider known by `open_id=` and/or `user_id=`."""
        code = secrets.token_hex(8)
        self._codes[code] = ids
        return code

    def setup(self, app: web.Application) -> None:
        app.router.add_post("/gateway.do", self.gateway)

    async def gateway(self, request: web.Request) -> web.StreamResponse:
        form = {k: str(v) for k, v in (await request.post()).items()}
        valid = rsa2_valid(self.app_public_key, signing_string(form), form.get("sign", ""))
        self.requests.append(Seen(form, valid))
        if self.mode == "slow":
            await self.stall()
        if self.mode == "error500":
            return web.Response(status=502, text="<html>Bad Gateway</html>")
        if self.mode == "garbage":
            return web.Response(text='{"alipay_system_oauth_token_response": ', charset="utf-8")
        if form.get("app_id") != self.app_id:
            return self._answer("error_response", _error("40002", "isv.invalid-app-id"))
        if not valid:
            return self._answer("error_response", _error("40002", "isv.invalid-signature"))
        ids = self._codes.pop(form.get("code", ""), None)
        if ids is None:
            return self._answer("error_response", _error("40002", "isv.code-invalid", "授权码code无效"))
        if self.mode == "odd_sub_code":
            return self._answer("error_response", {"code": "40002", "sub_code": ["isv.code-invalid"]})
        if self.mode == "no_subject":
            ids = {"user_id": ""}
        return self._answer(RESPONSE_KEY, ids | {"access_token": "authusrB" + secrets.token_hex(8)})

    def _answer(self, key: str, value: dict[str, Any]) -> web.Response:
        raw = json.dumps(value, separators=(" ,", ":"))
        assert json.dumps(json.loads(raw)) != raw  # a re-serialised copy would not match
        sign = rsa2_sign(self.alipay_private_key, raw)
        if self.mode == "altered":
            raw = raw.replace(value.get("open_id") or value.get("user_id") or "\x00", "2088-mallory")
        members = [f'"{key}":{raw}'] + ([] if self.mode == "unsigned" else [f'"sign":"{sign}"'])
        return web.Response(text="{" + ",".join(members) + "}", content_type="text/html", charset="utf-8")


def _error(code: str, sub_code: str, sub_msg: str = "") -> dict[str, str]:
    return {"code": code, "msg": "Invalid Arguments", "sub_code": sub_code, "sub_msg": sub_msg}
