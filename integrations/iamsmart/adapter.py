"""Hong Kong iAM Smart sign-in: getToken for the code, then getProfile for name and birth date.

The birth date gives the rider category (child, adult, elderly) by age on today's Hong Kong
date, with the age limits as settings so a fare rule change is a config edit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from bayaffairs.adapters.protocols import (
    AgeCategorySettings,
    IdentityProvider,
    LoginRejected,
    VerifiedIdentity,
    rider_category,
)
from bayaffairs.integrations.iamsmart.client import SUCCESS, Envelope, IAmSmartClient
from bayaffairs.integrations.remote import CallError, ClientCredentials, RemotePartner

ZONE = ZoneInfo("Asia/Hong_Kong")
_BIRTH_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")


class Settings(ClientCredentials, AgeCategorySettings):
    pass


class IAmSmartLogin(RemotePartner, IdentityProvider):
    """Identity provider for iAM Smart; subject is the openID iAM Smart issues for our client."""

    Settings = Settings

    @cached_property
    def client(self) -> IAmSmartClient:
        s = self.settings
        return IAmSmartClient(
            self.http,
            self.context.clock,
            s["base_url"],
            s["client_id"],
            s["client_secret"],
            self.timeout_seconds,
        )

    async def exchange(self, code: str, claims: Mapping[str, Any]) -> VerifiedIdentity:
        if not code:
            raise LoginRejected("empty code")
        token = await self._call("/api/v1/auth/getToken", {"code": code, "grantType": "authorization_code"})
        if token.code != SUCCESS:
            raise LoginRejected(f"iamsmart {token.code}")
        access_token, open_id = _strings(token.content, "accessToken", "openID")
        if not (access_token and open_id):
            raise self.failure("getToken answer without accessToken or openID")
        profile = await self._call("/api/v1/account/getProfile", {"accessToken": access_token})
        if profile.code != SUCCESS or not isinstance(profile.content, dict):
            raise self.failure(f"getProfile answered {profile.code}")
        return self._identity(open_id, profile.content)

    def _identity(self, open_id: str, profile: Mapping[str, Any]) -> VerifiedIdentity:
        (english,) = _strings(profile.get("enName"), "UnstructuredName")
        (chinese,) = _strings(profile.get("chName"), "ChineseName")
        today = self.context.clock.now().astimezone(ZONE).date()
        birth = self._birth_date(profile.get("birthDate"), today)
        if birth is None:
            return VerifiedIdentity(open_id, english or chinese)
        category = rider_category(
            birth, today, self.settings["elderly_age"], self.settings["child_age_below"]
        )
        return VerifiedIdentity(open_id, english or chinese, category, {"birth_date": birth.isoformat()})

    def _birth_date(self, value: Any, today: date) -> date | None:
        """None when the rider did not share it; a malformed one is the partner's fault."""
        if value in (None, ""):
            return None
        match = _BIRTH_DATE.match(value) if isinstance(value, str) else None
        try:
            birth = date(*map(int, match.groups())) if match else None
        except ValueError:
            birth = None
        if birth is None or birth > today:
            raise self.failure("malformed birthDate")
        return birth

    async def _call(self, path: str, payload: dict[str, Any]) -> Envelope:
        try:
            return await self.client.call(path, payload)
        except CallError as exc:
            raise self.failure(f"{path}: {exc}") from None


def _strings(content: Any, *keys: str) -> tuple[str | None, ...]:
    """The named string members of a JSON object, None for any that is missing or not a string."""
    if not isinstance(content, dict):
        return (None,) * len(keys)
    return tuple(v if isinstance(v := content.get(k), str) and v else None for k in keys)
