"""Macao One Account sign-in as a standard OAuth 2.0 authorization-code client.

POST {base_url}/oauth2/token trades the code for a bearer token (400 invalid_grant: the code is
no good); GET {base_url}/oauth2/userinfo gives sub, name and birthdate. The category comes from
the age on today's Macao date, with the age limits as settings.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from marshmallow import fields, validate

from bayaffairs.adapters.base import Adapter
from bayaffairs.adapters.protocols import (
    AgeCategorySettings,
    LoginRejected,
    VerifiedIdentity,
    rider_category,
)
from bayaffairs.errors import PartnerError

log = logging.getLogger(__name__)

ZONE = ZoneInfo("Asia/Macau")
_BIRTHDATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

POSITIVE = validate.Range(min=0, min_inclusive=False)


class Settings(AgeCategorySettings):
    base_url = fields.String(required=True, validate=validate.URL(require_tld=False))
    client_id = fields.String(required=True, validate=validate.Length(min=1))
    client_secret = fields.String(required=True, validate=validate.Length(min=1))
    # Exactly as registered with the provider; app schemes are fine, so not URL-validated.
    redirect_uri = fields.String(required=True, validate=validate.Length(min=1))
    timeout_seconds = fields.Float(load_default=5.0, validate=POSITIVE)


class MacaoOneAccountLogin(Adapter):
    """Identity provider for Macao One Account; subject is the OAuth `sub`."""

    kind = "identity_provider"
    Settings = Settings

    async def exchange(self, code: str, claims: Mapping[str, Any]) -> VerifiedIdentity:
        if not code:
            raise LoginRejected("empty code")
        access_token = await self._token(code)
        status, user = await self._fetch(
            "GET", "/oauth2/userinfo", headers={"Authorization": f"Bearer {access_token}"}
        )
        if status != 200 or not isinstance(sub := user.get("sub"), str) or not sub:
            raise self._failure(f"userinfo answered HTTP {status} without sub")
        names = (user.get("name"), user.get("name_zh"))
        name = next((n for n in names if isinstance(n, str) and n), None)
        today = self.context.clock.now().astimezone(ZONE).date()
        birth = self._birth_date(user.get("birthdate"), today)
        if birth is None:
            return VerifiedIdentity(sub, name)
        category = rider_category(
            birth, today, self.settings["elderly_age"], self.settings["child_age_below"]
        )
        return VerifiedIdentity(sub, name, category, {"birth_date": birth.isoformat()})

    async def _token(self, code: str) -> str:
        s = self.settings
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": s["redirect_uri"],
            "client_id": s["client_id"],
            "client_secret": s["client_secret"],
        }
        status, answer = await self._fetch("POST", "/oauth2/token", data=form)
        if status == 400 and answer.get("error") == "invalid_grant":
            raise LoginRejected("macao one account: invalid_grant")
        if status != 200:
            raise self._failure(f"token answered HTTP {status} {answer.get('error')!r}")
        token, token_type = answer.get("access_token"), answer.get("token_type")
        if not (isinstance(token, str) and token and str(token_type).lower() == "bearer"):
            raise self._failure("token answer without a bearer access_token")
        return token

    async def _fetch(self, method: str, path: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        """Status and JSON object of an answer below 500; anything else is a partner failure."""
        url = self.settings["base_url"].rstrip("/") + path
        timeout = aiohttp.ClientTimeout(total=self.settings["timeout_seconds"])
        try:
            async with self.context.http.request(method, url, timeout=timeout, **kwargs) as response:
                status, body = response.status, await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self._failure(f"{path} unreachable ({type(exc).__name__})") from exc
        if status >= 500:
            raise self._failure(f"{path} answered HTTP {status}")
        try:
            answer = json.loads(body)
        except ValueError:
            raise self._failure(f"{path} answer is not JSON") from None
        if not isinstance(answer, dict):
            raise self._failure(f"{path} answer is not a JSON object")
        return status, answer

    def _birth_date(self, value: Any, today: date) -> date | None:
        """None when the rider did not share it; a malformed one is the partner's fault."""
        if value in (None, ""):
            return None
        try:
            birth = date.fromisoformat(value) if _BIRTHDATE.match(str(value)) else None
        except ValueError:
            birth = None
        if birth is None or birth > today:
            raise self._failure("malformed birthdate")
        return birth

    def _failure(self, reason: str) -> PartnerError:
        log.warning("%s: %s", self.id, reason)
        return PartnerError(details={"partner": self.id})
