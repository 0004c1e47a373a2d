"""Macao One Account sign-in against a local fake of its OAuth 2.0 endpoints."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from bayaffairs.adapters.protocols import LoginRejected
from bayaffairs.errors import PartnerError
from tests.integrations.macao_one_account.fake import FakeOneAccount
from tests.integrations.support import (
    PATIENT_TIMEOUT,
    SHORT_TIMEOUT,
    build_adapter,
    gives_up_in_time,
    unused_url,
)
from tests.support import MovableClock

# 16:30 UTC is already 00:30 of the next day in Macao: ages count by the Macao date.
MACAO_JUST_AFTER_MIDNIGHT = MovableClock(datetime(2025, 3, 14, 16, 30, tzinfo=UTC))  # date under test


@pytest.fixture
async def one_account() -> AsyncIterator[FakeOneAccount]:
    async with FakeOneAccount() as fake:
        yield fake


def make(http: aiohttp.ClientSession, base_url: str, **overrides: Any) -> Any:
    settings = {
        "base_url": base_url,
        "client_id": "mo-client",
        "client_secret": "mo-secret",
        "redirect_uri": "https://app.example/callback",
        "timeout_seconds": PATIENT_TIMEOUT,
    }
    return build_adapter(
        "macao_one_account", settings | overrides, http=http, clock=MACAO_JUST_AFTER_MIDNIGHT
    )


async def test_code_exchange_gives_sub_and_name(
    http: aiohttp.ClientSession, one_account: FakeOneAccount
) -> None:
    code = one_account.issue("mo-alice", name="CHAN Alice", birthdate="1990-01-01")
    identity = await make(http, one_account.url).exchange(code, {})
    assert (identity.subject, identity.display_name) == ("mo-alice", "CHAN Alice")


async def test_chinese_name_is_used_without_a_name(
    http: aiohttp.ClientSession, one_account: FakeOneAccount
) -> None:
    code = one_account.issue("mo-bob", name_zh="陳大文")
    identity = await make(http, one_account.url).exchange(code, {})
    assert identity.display_name == "陳大文"


async def test_token_request_is_a_standard_authorization_code_grant(
    http: aiohttp.ClientSession, one_account: FakeOneAccount
) -> None:
    code = one_account.issue("mo-carol")
    await make(http, one_account.url).exchange(code, {})
    assert one_account.token_forms[-1] == {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": "https://app.example/callback",
        "client_id": "mo-client",
        "client_secret": "mo-secret",
    }


async def test_userinfo_is_fetched_with_the_bearer_token(
    http: aiohttp.ClientSession, one_account: FakeOneAccount
) -> None:
    await make(http, one_account.url).exchange(one_account.issue("mo-dan"), {})
    assert one_account.userinfo_auth[-1].startswith("Bearer ")
    assert len(one_account.userinfo_auth[-1]) > len("Bearer ")


async def test_unknown_code_is_rejected(http: aiohttp.ClientSession, one_account: FakeOneAccount) -> None:
    with pytest.raises(LoginRejected, match="invalid_grant"):
        await make(http, one_account.url).exchange("never-issued", {})


async def test_code_used_twice_is_rejected(http: aiohttp.ClientSession, one_account: FakeOneAccount) -> None:
    adapter, code = make(http, one_account.url), one_account.issue("mo-erin")
    await adapter.exchange(code, {})
    with pytest.raises(LoginRejected):
        await adapter.exchange(code, {})


async def test_wrong_client_secret_is_a_partner_error(
    http: aiohttp.ClientSession, one_account: FakeOneAccount
) -> None:
    with pytest.raises(PartnerError):
        await make(http, one_account.url, client_secret="stale").exchange(one_account.issue("mo-f"), {})


@pytest.mark.parametrize(
    ("birthdate", "category"),
    [
        ("1960-03-15", "elderly"),  # 65 today in Macao (still 64 by the UTC date)
        ("1960-03-16", "adult"),
        ("2013-03-15", "adult"),  # 12 today
        ("2013-03-16", "child"),
    ],
)
async def test_category_follows_age_on_the_macao_date(
    http: aiohttp.ClientSession, one_account: FakeOneAccount, birthdate: str, category: str
) -> None:
    identity = await make(http, one_account.url).exchange(one_account.issue("mo-g", birthdate=birthdate), {})
    assert identity.category == category
    assert identity.attributes == {"birth_date": birthdate}


async def test_age_limits_come_from_settings(
    http: aiohttp.ClientSession, one_account: FakeOneAccount
) -> None:
    adapter = make(http, one_account.url, child_age_below=14)
    identity = await adapter.exchange(one_account.issue("mo-h", birthdate="2012-01-01"), {})
    assert identity.category == "child"


async def test_userinfo_without_birthdate_leaves_category_unset(
    http: aiohttp.ClientSession, one_account: FakeOneAccount
) -> None:
    identity = await make(http, one_account.url).exchange(one_account.issue("mo-ivy"), {})
    assert identity.category is None


@pytest.mark.parametrize("birthdate", ["15/03/1960", "1960-02-30", "2099-01-01"])
async def test_malformed_birthdate_is_a_partner_error(
    http: aiohttp.ClientSession, one_account: FakeOneAccount, birthdate: str
) -> None:
    with pytest.raises(PartnerError):
        await make(http, one_account.url).exchange(one_account.issue("mo-jay", birthdate=birthdate), {})


@pytest.mark.parametrize("mode", ["error500", "garbage", "bad_request", "not_bearer", "userinfo_down"])
async def test_broken_answer_is_a_partner_error(
    http: aiohttp.ClientSession, one_account: FakeOneAccount, mode: str
) -> None:
    one_account.mode = mode
    with pytest.raises(PartnerError) as caught:
        await make(http, one_account.url).exchange(one_account.issue("mo-kim"), {})
    assert caught.value.details == {"partner": "macao_one_account"}


async def test_answer_slower_than_timeout_is_a_partner_error(
    http: aiohttp.ClientSession, one_account: FakeOneAccount
) -> None:
    one_account.mode = "slow"
    async with gives_up_in_time():
        with pytest.raises(PartnerError):
            await make(http, one_account.url, timeout_seconds=SHORT_TIMEOUT).exchange(
                one_account.issue("mo-lee"), {}
            )


async def test_unreachable_one_account_is_a_partner_error(http: aiohttp.ClientSession) -> None:
    with pytest.raises(PartnerError):
        await make(http, unused_url()).exchange("any", {})
