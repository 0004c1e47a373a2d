"""WeChat mini-program login against a local fake of jscode2session."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bayaffairs.adapters.protocols import LoginRejected
from bayaffairs.errors import PartnerError
from tests.integrations.support import (
    PATIENT_TIMEOUT,
    SHORT_TIMEOUT,
    build_adapter,
    gives_up_in_time,
    unused_url,
)
from tests.integrations.wechat.fake import FakeWeChat


@pytest.fixture
async def wechat() -> AsyncIterator[FakeWeChat]:
    async with FakeWeChat() as fake:
        yield fake


def make(http: aiohttp.ClientSession, base_url: str, instance: str = "wechat", **overrides: Any) -> Any:
    settings = {
        "base_url": base_url,
        "app_id": "wx-test-app",
        "app_secret": "wx-test-secret",
        "timeout_seconds": PATIENT_TIMEOUT,
    }
    return build_adapter("wechat", settings | overrides, http=http, instance=instance)


async def test_code_exchange_gives_openid_as_subject(http: aiohttp.ClientSession, wechat: FakeWeChat) -> None:
    identity = await make(http, wechat.url).exchange(wechat.issue("o-alice"), {})
    assert identity.subject == "o-alice"
    assert (identity.display_name, identity.category) == (None, None)


async def test_unionid_is_the_subject_when_wechat_sends_one(
    http: aiohttp.ClientSession, wechat: FakeWeChat
) -> None:
    identity = await make(http, wechat.url).exchange(wechat.issue("o-bob", unionid="u-bob"), {})
    assert identity.subject == "u-bob"
    assert identity.attributes["openid"] == "o-bob"


async def test_request_carries_app_credentials_code_and_grant_type(
    http: aiohttp.ClientSession, wechat: FakeWeChat
) -> None:
    code = wechat.issue("o-carol")
    await make(http, wechat.url).exchange(code, {})
    assert wechat.requests[-1].query == {
        "appid": "wx-test-app",
        "secret": "wx-test-secret",
        "js_code": code,
        "grant_type": "authorization_code",
    }


async def test_json_labelled_text_plain_is_parsed(http: aiohttp.ClientSession, wechat: FakeWeChat) -> None:
    async with http.get(wechat.url + "sns/jscode2session") as response:
        assert response.content_type == "text/plain"
    identity = await make(http, wechat.url).exchange(wechat.issue("o-dan"), {})
    assert identity.subject == "o-dan"


async def test_unknown_code_is_rejected(http: aiohttp.ClientSession, wechat: FakeWeChat) -> None:
    with pytest.raises(LoginRejected, match="40029"):
        await make(http, wechat.url).exchange("never-issued", {})


async def test_code_used_twice_is_rejected(http: aiohttp.ClientSession, wechat: FakeWeChat) -> None:
    adapter, code = make(http, wechat.url), wechat.issue("o-erin")
    await adapter.exchange(code, {})
    with pytest.raises(LoginRejected, match="40163"):
        await adapter.exchange(code, {})


async def test_empty_code_is_rejected_without_calling_wechat(
    http: aiohttp.ClientSession, wechat: FakeWeChat
) -> None:
    with pytest.raises(LoginRejected):
        await make(http, wechat.url).exchange("", {})
    assert wechat.requests == []


@pytest.mark.parametrize("mode", ["rate_limited", "busy"])
async def test_rate_limit_and_system_busy_are_partner_errors(
    http: aiohttp.ClientSession, wechat: FakeWeChat, mode: str
) -> None:
    wechat.mode = mode
    with pytest.raises(PartnerError) as caught:
        await make(http, wechat.url, instance="wechat_main").exchange(wechat.issue("o-f"), {})
    assert caught.value.details == {"partner": "wechat_main"}


async def test_wrong_app_secret_is_a_partner_error_not_a_rejection(
    http: aiohttp.ClientSession, wechat: FakeWeChat
) -> None:
    with pytest.raises(PartnerError):
        await make(http, wechat.url, app_secret="stale").exchange(wechat.issue("o-g"), {})


@pytest.mark.parametrize("mode", ["error500", "garbage", "no_openid", "odd_errcode"])
async def test_broken_answer_is_a_partner_error(
    http: aiohttp.ClientSession, wechat: FakeWeChat, mode: str
) -> None:
    wechat.mode = mode
    with pytest.raises(PartnerError):
        await make(http, wechat.url).exchange(wechat.issue("o-h"), {})


async def test_answer_slower_than_timeout_is_a_partner_error(
    http: aiohttp.ClientSession, wechat: FakeWeChat
) -> None:
    wechat.mode = "slow"
    async with gives_up_in_time():
        with pytest.raises(PartnerError):
            await make(http, wechat.url, timeout_seconds=SHORT_TIMEOUT).exchange(wechat.issue("o-i"), {})


async def test_unreachable_wechat_is_a_partner_error(http: aiohttp.ClientSession) -> None:
    with pytest.raises(PartnerError):
        await make(http, unused_url()).exchange("any-code", {})


async def test_secret_and_session_key_never_reach_the_log(
    http: aiohttp.ClientSession, wechat: FakeWeChat, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bayaffairs")
    adapter = make(http, wechat.url)
    await adapter.exchange(wechat.issue("o-j"), {})
    wechat.mode = "slow"
    async with gives_up_in_time():
        with pytest.raises(PartnerError) as caught:
            await make(http, wechat.url, timeout_seconds=SHORT_TIMEOUT).exchange(wechat.issue("o-k"), {})
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("bayaffairs"))
    assert "jscode2session failed" in ours
    assert "wx-test-secret" not in ours
    assert all(key not in ours for key in wechat.session_keys)
    assert caught.value.__cause__ is None
