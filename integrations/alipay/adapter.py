"""Alipay mini-program login: trade the `my.getAuthCode()` code for the rider's open_id/user_id.

Partner API: the open-platform gateway, method alipay.system.oauth.token, RSA2-signed both ways.
A success is believed only with a valid Alipay signature; an unsigned error is still taken as a
failure, because it can only refuse a login, never admit one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric import rsa
from marshmallow import Schema, ValidationError, fields, validate

from bayaffairs.adapters.protocols import IdentityProvider, LoginRejected, VerifiedIdentity
from bayaffairs.errors import PartnerError
from bayaffairs.integrations.alipay import signing
from bayaffairs.integrations.remote import RemotePartner, timeout_field

METHOD = "alipay.system.oauth.token"
RESPONSE_KEY = "alipay_system_oauth_token_response"
SUCCESS = "10000"
REJECTED_SUB_CODES = frozenset({"isv.code-invalid", "isv.invalid-auth-code", "invalid-auth-code"})
GATEWAY_ZONE = ZoneInfo("Asia/Shanghai")


class _RsaKey(fields.Field[rsa.RSAPrivateKey | rsa.RSAPublicKey]):
    """A PEM (or bare base64) RSA key in config, loaded once when settings are validated."""

    def __init__(self, *, private: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.private = private

    def _deserialize(
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> rsa.RSAPrivateKey | rsa.RSAPublicKey:
        kind = "private" if self.private else "public"
        if not isinstance(value, str) or not value.strip():
            raise ValidationError(f"must be an RSA {kind} key (PEM or base64)")
        try:
            if self.private:
                return signing.load_private_key(value)
            return signing.load_public_key(value)
        except ValueError as exc:
            raise ValidationError(f"not a usable RSA {kind} key: {exc}") from None


class Settings(Schema):
    class Meta:
        unknown = "raise"

    gateway_url = fields.String(
        load_default="https://openapi.alipay.com/gateway.do",
        validate=validate.URL(require_tld=False),
    )
    app_id = fields.String(required=True, validate=validate.Length(min=1))
    app_private_key = _RsaKey(private=True, required=True)
    alipay_public_key = _RsaKey(private=False, required=True)
    timeout_seconds = timeout_field()


class AlipayLogin(RemotePartner, IdentityProvider):
    """Identity provider for Alipay mini-programs; subject is the open_id (newer apps) or the
    user_id (older apps)."""

    Settings = Settings

    async def exchange(self, code: str, claims: Mapping[str, Any]) -> VerifiedIdentity:
        if not code:
            raise LoginRejected("empty code")
        text = await self._call(self._signed_params(code))
        try:
            members = signing.raw_members(text)
        except ValueError:
            raise self._failure("answer is not a JSON object") from None
        key = RESPONSE_KEY if RESPONSE_KEY in members else "error_response"
        if key not in members:
            raise self._failure("answer has no response member")
        signed = self._check_signature(members[key], members.get("sign"))
        answer = json.loads(members[key])
        if not isinstance(answer, dict):
            raise self._failure("response member is not an object")
        if key == "error_response" or answer.get("code", SUCCESS) != SUCCESS:
            raise self._refusal(answer)
        if not signed:
            raise self._failure("unsigned success answer")
        subject = answer.get("open_id") or answer.get("user_id")
        if not isinstance(subject, str) or not subject:
            raise self._failure("answer without open_id or user_id")
        return VerifiedIdentity(subject=subject)

    def _signed_params(self, code: str) -> dict[str, str]:
        now = self.context.clock.now().astimezone(GATEWAY_ZONE)
        params = {
            "app_id": self.settings["app_id"],
            "method": METHOD,
            "format": "JSON",
            "charset": "utf-8",
            "sign_type": "RSA2",
            "timestamp": now.strftime("%Y-%m-%d %H:%M:%S"),
            "version": "1.0",
            "grant_type": "authorization_code",
            "code": code,
        }
        params["sign"] = signing.sign_params(params, self.settings["app_private_key"])
        return params

    async def _call(self, params: dict[str, str]) -> str:
        status, body = await self.request("POST", self.settings["gateway_url"], data=params)
        if status != 200:
            raise self._failure(f"HTTP {status}")
        try:
            return str(body, "utf-8")
        except UnicodeDecodeError:
            raise self._failure("answer is not UTF-8") from None

    def _check_signature(self, raw: str, sign_member: str | None) -> bool:
        """True when signed correctly, False when unsigned; a wrong signature is a failure."""
        if sign_member is None:
            return False
        sign = json.loads(sign_member)
        key = self.settings["alipay_public_key"]
        if not isinstance(sign, str) or not signing.verify(raw, sign, key):
            raise self._failure("bad signature")
        return True

    def _refusal(self, answer: Mapping[str, Any]) -> Exception:
        sub_code = answer.get("sub_code")
        if isinstance(sub_code, str) and sub_code in REJECTED_SUB_CODES:
            return LoginRejected(f"alipay {sub_code}")
        return self._failure(f"code {answer.get('code')!r}, sub_code {sub_code!r}")

    def _failure(self, reason: str) -> PartnerError:
        return self.failure(f"{METHOD} failed: {reason}")
