"""Re-authentication: a rider session counts as fresh only within its provider's window."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bayaffairs.config.settings import PrivacySettings
from bayaffairs.credentials import Principal
from bayaffairs.privacy.reauth import ReauthenticationRequired, require_fresh
from tests.support import START

NOW = START
SETTINGS = PrivacySettings(reauth_minutes=5, reauth_minutes_by_provider={"iamsmart": 10})


def session(minutes_ago: float, provider: str = "wechat", kind: str = "rider") -> Principal:
    signed_in = NOW - timedelta(minutes=minutes_ago)
    return Principal("crd_x", kind, "usr_x", NOW + timedelta(days=30), signed_in, provider)


def test_a_session_signed_in_within_the_window_is_fresh() -> None:
    require_fresh(session(4.9), SETTINGS, NOW)
    require_fresh(session(5), SETTINGS, NOW)


def test_an_older_session_must_sign_in_again_and_is_told_how_fresh() -> None:
    with pytest.raises(ReauthenticationRequired) as caught:
        require_fresh(session(5.1), SETTINGS, NOW)
    assert caught.value.status == 401
    assert caught.value.details["max_age_seconds"] == 300
    assert caught.value.details["provider"] == "wechat"


def test_each_provider_has_its_own_window() -> None:
    require_fresh(session(9, "iamsmart"), SETTINGS, NOW)
    with pytest.raises(ReauthenticationRequired):
        require_fresh(session(9, "dev"), SETTINGS, NOW)


def test_only_rider_sessions_with_a_known_sign_in_count() -> None:
    with pytest.raises(ReauthenticationRequired):
        require_fresh(session(0, kind="admin"), SETTINGS, NOW)
    unknown = Principal("crd_x", "rider", "usr_x", NOW + timedelta(days=1))
    with pytest.raises(ReauthenticationRequired):
        require_fresh(unknown, SETTINGS, NOW)
