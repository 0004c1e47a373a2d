"""Re-authentication: proof that the rider signed in again just now, not only holds a token.

What a leaked or borrowed session token must not do (read document numbers in clear, delete the
account) needs a *fresh* session: one whose sign-in (its auth time, the credential's creation)
is at most `reauth_minutes` old for the identity provider it came from. Every provider's login
code is single-use and minted by the provider after it has checked the person, so a fresh
session proves a new check by the provider:

- `wechat`, `alipay`: a new `wx.login()` / `my.getAuthCode()` code, i.e. the WeChat or Alipay
  account signed in on this phone now (these are silent: the app should ask "are you sure?");
- `iamsmart`, `macao_one_account`: the person authenticated again in iAM Smart or One Account
  (biometrics or PIN there), hence a longer window for switching apps;
- `dev` (demo and test profiles only): a new dev sign-in, which proves nothing but the flow.

The error tells the app how old a session may be; the app signs in again and retries with the
new token.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bayaffairs.config.settings import PrivacySettings
from bayaffairs.credentials import Principal
from bayaffairs.errors import Unauthenticated


class ReauthenticationRequired(Unauthenticated):
    """401 `reauthentication_required`: sign in again, then retry with the new session."""

    code = "reauthentication_required"


def require_fresh(principal: Principal, settings: PrivacySettings, now: datetime) -> None:
    """Raise `ReauthenticationRequired` unless `principal` is a rider session signed in within
    its provider's window."""
    minutes = settings.reauth_window_minutes(principal.label)
    signed_in = principal.issued_at
    if principal.kind == "rider" and signed_in is not None and now - signed_in <= timedelta(minutes=minutes):
        return
    raise ReauthenticationRequired(
        details={
            "max_age_seconds": minutes * 60,
            "authenticated_at": signed_in.isoformat() if signed_in else None,
            "provider": principal.label,
        },
        minutes=minutes,
    )
