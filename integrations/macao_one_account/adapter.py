"""Macao One Account sign-in as a standard OAuth 2.0 authorization-code client.

POST {base_url}/oauth2/token trades the code for a bearer token (400 invalid_grant: the code is
no good); GET {base_url}/oauth2/userinfo gives sub, name and birthdate. The category comes from
the age on today's Macao date, with the age limits as settings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from marshmallow import fields, validate

from bayaffairs.adapters.protocols import (
    AgeCategorySettings,
    IdentityProvider,
    LoginRejected,
    VerifiedIdentity,
    rider_category,
)
from bayaffairs.integrations.remote import ClientCredentials, RemotePartner

ZONE = ZoneInfo("Asia/Macau")
_BIRTHDATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class Settings(ClientCredentials, AgeCategorySettings):
    # Exactly as registered with the provider; app schemes are fine, so not URL-validated.
    redirect_uri = fields.String(required=True, validate=validate.Length(min=1))


class MacaoOneAccountLogin(RemotePartner, IdentityProvider):
    """Identity provider for Macao One Account; subject is the OAuth `sub`."""

    Settings = Settings

    async def exchange(self, code: str, claims: Mapping[str, Any]) -> VerifiedIdentity:
        if not code:
            raise LoginRejected("empty code")
        access_token = await self._token(code)
        status, user = await self._fetch(
            "GET", "/oauth2/userinfo", headers={"Authorization": f"Bearer {access_token}"}
        )
        if status != 200 or not isinstance(sub := user.get("sub"), str) or not sub:
            raise self.failure(f"userinfo answered HTTP {status} without sub")
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
            raise self.failure(f"token answered HTTP {status} {answer.get('error')!r}")
        token, token_type = answer.get("access_token"), answer.get("token_type")
        if not (isinstance(token, str) and token and str(token_type).lower() == "bearer"):
            raise self.failure("token answer without a bearer access_token")
        return token

    async def _fetch(self, method: str, path: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        """Status and JSON object of an answer below 500; anything else is a partner failure."""
        status, body = await self.request(method, self.settings["base_url"].rstrip("/") + path, **kwargs)
        if status >= 500:
            raise self.failure(f"{path} answered HTTP {status}")
        return status, self.answer(body)

    def _birth_date(self, value: Any, today: date) -> date | None:
        """None when the rider did not share it; a malformed one is the partner's fault."""
        if value in (None, ""):
            return None
        try:
            birth = date.fromisoformat(value) if _BIRTHDATE.match(str(value)) else None
        except ValueError:
            birth = None
        if birth is None or birth > today:
            raise self.failure("malformed birthdate")
        return birth
