"""iAM Smart sign-in against a local fake that checks every request's HMAC signature."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from bayaffairs.adapters.protocols import LoginRejected
from bayaffairs.errors import PartnerError
from tests.integrations.iamsmart.fake import FakeIAmSmart, expected_signature
from tests.integrations.support import (
    PATIENT_TIMEOUT,
    SHORT_TIMEOUT,
    build_adapter,
    gives_up_in_time,
    unused_url,
)
from tests.support import MovableClock

# 17:00 UTC is already 01:00 of the next day in Hong Kong: ages count by the Hong Kong date.
HK_JUST_AFTER_MIDNIGHT = datetime(2025, 3, 14, 17, 0, tzinfo=UTC)  # date under test


@pytest.fixture
async def iamsmart() -> AsyncIterator[FakeIAmSmart]:
    async with FakeIAmSmart() as fake:
        yield fake


def make(
    http: aiohttp.ClientSession,
    base_url: str,
    at: datetime = HK_JUST_AFTER_MIDNIGHT,
    **overrides: Any,
) -> Any:
    settings = {
        "base_url": base_url,
        "client_id": "iam-client",
        "client_secret": "iam-secret",
        "timeout_seconds": PATIENT_TIMEOUT,
    }
    return build_adapter("iamsmart", settings | overrides, http=http, clock=MovableClock(at))


async def test_code_exchange_gives_open_id_and_english_name(
    http: aiohttp.ClientSession, iamsmart: FakeIAmSmart
) -> None:
    code = iamsmart.issue("oid-alice", enName={"UnstructuredName": "CHAN, Tai Man"}, birthDate="19900101")
    identity = await make(http, iamsmart.url).exchange(code, {})
    assert (identity.subject, identity.display_name) == ("oid-alice", "CHAN, Tai Man")


async def test_chinese_name_is_used_without_an_english_one(
    http: aiohttp.ClientSession, iamsmart: FakeIAmSmart
) -> None:
    code = iamsmart.issue("oid-bob", chName={"ChineseName": "陳大文"}, birthDate="19900101")
    identity = await make(http, iamsmart.url).exchange(code, {})
    assert identity.display_name == "陳大文"


async def test_every_request_is_hmac_signed_with_the_client_secret(
    http: aiohttp.ClientSession, iamsmart: FakeIAmSmart
) -> None:
    code = iamsmart.issue("oid-carol", birthDate="19900101")
    await make(http, iamsmart.url).exchange(code, {})
    assert [r.path for r in iamsmart.requests] == [
        "/api/v1/auth/getToken",
        "/api/v1/account/getProfile",
    ]
    assert all(r.signature_valid for r in iamsmart.requests)
    assert iamsmart.requests[0].body == {"code": code, "grantType": "authorization_code"}
    assert set(iamsmart.requests[1].body) == {"accessToken"}


async def test_signature_covers_the_exact_body_sent(
    http: aiohttp.ClientSession, iamsmart: FakeIAmSmart
) -> None:
    await make(http, iamsmart.url).exchange(iamsmart.issue("oid-dan"), {})
    first = iamsmart.requests[0]
    tampered = b'{"code":"another","grantType":"authorization_code"}'
    assert expected_signature("iam-secret", first.headers, tampered) != first.headers["signature"]


async def test_each_request_has_a_fresh_nonce_and_clock_timestamp(
    http: aiohttp.ClientSession, iamsmart: FakeIAmSmart
) -> None:
    await make(http, iamsmart.url).exchange(iamsmart.issue("oid-erin"), {})
    nonces = {r.headers["nonce"] for r in iamsmart.requests}
    assert len(nonces) == 2 and all(len(n) >= 16 for n in nonces)
    expected_ms = str(int(HK_JUST_AFTER_MIDNIGHT.timestamp() * 1000))
    assert {r.headers["timestamp"] for r in iamsmart.requests} == {expected_ms}


async def test_wrong_client_secret_is_a_partner_error(
    http: aiohttp.ClientSession, iamsmart: FakeIAmSmart
) -> None:
    with pytest.raises(PartnerError):
        await make(http, iamsmart.url, client_secret="stale").exchange(iamsmart.issue("oid-f"), {})
    assert not iamsmart.requests[-1].signature_valid


async def test_unknown_code_is_rejected(http: aiohttp.ClientSession, iamsmart: FakeIAmSmart) -> None:
    with pytest.raises(LoginRejected, match="D40001"):
        await make(http, iamsmart.url).exchange("never-issued", {})


async def test_code_used_twice_is_rejected(http: aiohttp.ClientSession, iamsmart: FakeIAmSmart) -> None:
    adapter, code = make(http, iamsmart.url), iamsmart.issue("oid-gina")
    await adapter.exchange(code, {})
    with pytest.raises(LoginRejected):
        await adapter.exchange(code, {})


@pytest.mark.parametrize(
    ("birth_date", "category"),
    [
        ("19600315", "elderly"),  # 65 today in Hong Kong (still 64 by the UTC date)
        ("19600316", "adult"),  # 65 tomorrow
        ("20130315", "adult"),  # 12 today
        ("20130316", "child"),  # 11 until tomorrow
    ],
)
async def test_category_follows_age_on_the_hong_kong_date(
    http: aiohttp.ClientSession, iamsmart: FakeIAmSmart, birth_date: str | int, category: str
) -> None:
    code = iamsmart.issue("oid-h", birthDate=birth_date)
    identity = await make(http, iamsmart.url).exchange(code, {})
    assert identity.category == category


async def test_age_limits_come_from_settings(http: aiohttp.ClientSession, iamsmart: FakeIAmSmart) -> None:
    code = iamsmart.issue("oid-ivy", birthDate="19650101")
    adapter = make(http, iamsmart.url, elderly_age=60)
    assert (await adapter.exchange(code, {})).category == "elderly"


async def test_birth_date_is_passed_on_as_an_attribute(
    http: aiohttp.ClientSession, iamsmart: FakeIAmSmart
) -> None:
    code = iamsmart.issue("oid-jay", birthDate="19851231")
    identity = await make(http, iamsmart.url).exchange(code, {})
    assert identity.attributes == {"birth_date": "1985-12-31"}


async def test_profile_without_birth_date_leaves_category_unset(
    http: aiohttp.ClientSession, iamsmart: FakeIAmSmart
) -> None:
    code = iamsmart.issue("oid-kim", enName={"UnstructuredName": "KIM"})
    identity = await make(http, iamsmart.url).exchange(code, {})
    assert identity.category is None and identity.attributes == {}


@pytest.mark.parametrize("birth_date", ["1990-01-01", "19901301", "20990101", 19900101])
async def test_malformed_birth_date_is_a_partner_error(
    http: aiohttp.ClientSession, iamsmart: FakeIAmSmart, birth_date: str | int
) -> None:
    code = iamsmart.issue("oid-lee", birthDate=birth_date)
    with pytest.raises(PartnerError):
        await make(http, iamsmart.url).exchange(code, {})


async def test_failed_profile_call_is_a_partner_error(
    http: aiohttp.ClientSession, iamsmart: FakeIAmSmart
) -> None:
    iamsmart.mode = "profile_down"
    with pytest.raises(PartnerError):
        await make(http, iamsmart.url).exchange(iamsmart.issue("oid-max"), {})


@pytest.mark.parametrize("mode", ["error500", "garbage", "not_envelope"])
async def test_broken_answer_is_a_partner_error(
    http: aiohttp.ClientSession, iamsmart: FakeIAmSmart, mode: str
) -> None:
    iamsmart.mode = mode
    with pytest.raises(PartnerError) as caught:
        await make(http, iamsmart.url).exchange(iamsmart.issue("oid-ned"), {})
    assert caught.value.details == {"partner": "iamsmart"}


async def test_answer_slower_than_timeout_is_a_partner_error(
    http: aiohttp.ClientSession, iamsmart: FakeIAmSmart
) -> None:
    iamsmart.mode = "slow"
    async with gives_up_in_time():
        with pytest.raises(PartnerError):
            await make(http, iamsmart.url, timeout_seconds=SHORT_TIMEOUT).exchange(
                iamsmart.issue("oid-o"), {}
            )


async def test_unreachable_iamsmart_is_a_partner_error(http: aiohttp.ClientSession) -> None:
    with pytest.raises(PartnerError):
        await make(http, unused_url()).exchange("any", {})
