"""Alipay mini-program login against a local fake of the open-platform gateway."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bayaffairs.adapters.protocols import LoginRejected
from bayaffairs.config.errors import ConfigError
from bayaffairs.errors import PartnerError
from tests.integrations.alipay.fake import FakeAlipay, rsa2_valid, signing_string
from tests.integrations.support import (
    PATIENT_TIMEOUT,
    SHORT_TIMEOUT,
    build_adapter,
    gives_up_in_time,
    unused_url,
)
from tests.support import MovableClock

APP_ID = "2021000000000001"


@pytest.fixture(scope="module")
def app_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def alipay_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
async def gateway(app_key: rsa.RSAPrivateKey, alipay_key: rsa.RSAPrivateKey) -> AsyncIterator[FakeAlipay]:
    async with FakeAlipay(APP_ID, app_key.public_key(), alipay_key) as fake:
        yield fake


def private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.fixture
def settings(
    gateway: FakeAlipay, app_key: rsa.RSAPrivateKey, alipay_key: rsa.RSAPrivateKey
) -> dict[str, Any]:
    return {
        "gateway_url": gateway.url + "gateway.do",
        "app_id": APP_ID,
        "app_private_key": private_pem(app_key),
        "alipay_public_key": public_pem(alipay_key),
        "timeout_seconds": PATIENT_TIMEOUT,
    }


def make(http: aiohttp.ClientSession, settings: dict[str, Any], **kwargs: Any) -> Any:
    return build_adapter("alipay", settings, http=http, **kwargs)


async def test_code_exchange_gives_open_id_as_subject(
    http: aiohttp.ClientSession, gateway: FakeAlipay, settings: dict[str, Any]
) -> None:
    identity = await make(http, settings).exchange(gateway.issue(open_id="074a-alice"), {})
    assert identity.subject == "074a-alice"
    assert (identity.display_name, identity.category) == (None, None)


async def test_user_id_is_the_subject_for_apps_without_open_id(
    http: aiohttp.ClientSession, gateway: FakeAlipay, settings: dict[str, Any]
) -> None:
    identity = await make(http, settings).exchange(gateway.issue(user_id="2088-bob"), {})
    assert identity.subject == "2088-bob"


async def test_request_is_rsa2_signed_with_the_app_key(
    http: aiohttp.ClientSession, gateway: FakeAlipay, settings: dict[str, Any], app_key: rsa.RSAPrivateKey
) -> None:
    await make(http, settings).exchange(gateway.issue(open_id="074a-carol"), {})
    form = gateway.requests[-1].form
    assert gateway.requests[-1].signature_valid
    assert rsa2_valid(app_key.public_key(), signing_string(form), form["sign"])


async def test_request_carries_the_gateway_parameters(
    http: aiohttp.ClientSession, gateway: FakeAlipay, settings: dict[str, Any]
) -> None:
    code = gateway.issue(open_id="074a-dan")
    await make(http, settings).exchange(code, {})
    form = gateway.requests[-1].form
    assert {k: v for k, v in form.items() if k not in ("sign", "timestamp")} == {
        "app_id": APP_ID,
        "method": "alipay.system.oauth.token",
        "format": "JSON",
        "charset": "utf-8",
        "sign_type": "RSA2",
        "version": "1.0",
        "grant_type": "authorization_code",
        "code": code,
    }


async def test_timestamp_is_beijing_time(
    http: aiohttp.ClientSession, gateway: FakeAlipay, settings: dict[str, Any]
) -> None:
    clock = MovableClock(datetime(2025, 3, 14, 16, 30, 5, tzinfo=UTC))  # date under test
    await make(http, settings, clock=clock).exchange(gateway.issue(open_id="074a-erin"), {})
    assert gateway.requests[-1].form["timestamp"] == "2025-03-15 00:30:05"  # date under test


async def test_invalid_code_is_rejected(
    http: aiohttp.ClientSession, gateway: FakeAlipay, settings: dict[str, Any]
) -> None:
    with pytest.raises(LoginRejected, match=r"isv\.code-invalid"):
        await make(http, settings).exchange("never-issued", {})


async def test_code_used_twice_is_rejected(
    http: aiohttp.ClientSession, gateway: FakeAlipay, settings: dict[str, Any]
) -> None:
    adapter, code = make(http, settings), gateway.issue(open_id="074a-frank")
    await adapter.exchange(code, {})
    with pytest.raises(LoginRejected):
        await adapter.exchange(code, {})


async def test_unsigned_error_answer_still_rejects(
    http: aiohttp.ClientSession, gateway: FakeAlipay, settings: dict[str, Any]
) -> None:
    gateway.mode = "unsigned"
    with pytest.raises(LoginRejected):
        await make(http, settings).exchange("never-issued", {})


async def test_request_signed_with_a_wrong_key_is_a_partner_error(
    http: aiohttp.ClientSession, gateway: FakeAlipay, settings: dict[str, Any]
) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(PartnerError):
        await make(http, settings | {"app_private_key": private_pem(other)}).exchange(
            gateway.issue(open_id="074a-gina"), {}
        )
    assert not gateway.requests[-1].signature_valid


async def test_other_gateway_error_is_a_partner_error(
    http: aiohttp.ClientSession, gateway: FakeAlipay, settings: dict[str, Any]
) -> None:
    with pytest.raises(PartnerError) as caught:
        await make(http, settings | {"app_id": "2021999"}, instance="alipay_hk").exchange(
            gateway.issue(open_id="074a-hal"), {}
        )
    assert caught.value.details == {"partner": "alipay_hk"}


async def test_answer_altered_after_signing_is_a_partner_error(
    http: aiohttp.ClientSession, gateway: FakeAlipay, settings: dict[str, Any]
) -> None:
    gateway.mode = "altered"
    with pytest.raises(PartnerError):
        await make(http, settings).exchange(gateway.issue(open_id="074a-ivy"), {})


async def test_answer_signed_by_another_key_is_a_partner_error(
    http: aiohttp.ClientSession, gateway: FakeAlipay, settings: dict[str, Any], app_key: rsa.RSAPrivateKey
) -> None:
    with pytest.raises(PartnerError):
        await make(http, settings | {"alipay_public_key": public_pem(app_key)}).exchange(
            gateway.issue(open_id="074a-jay"), {}
        )


async def test_unsigned_success_answer_is_a_partner_error(
    http: aiohttp.ClientSession, gateway: FakeAlipay, settings: dict[str, Any]
) -> None:
    gateway.mode = "unsigned"
    with pytest.raises(PartnerError):
        await make(http, settings).exchange(gateway.issue(open_id="074a-kim"), {})


@pytest.mark.parametrize("mode", ["error500", "garbage", "no_subject", "odd_sub_code"])
async def test_broken_answer_is_a_partner_error(
    http: aiohttp.ClientSession, gateway: FakeAlipay, settings: dict[str, Any], mode: str
) -> None:
    gateway.mode = mode
    with pytest.raises(PartnerError):
        await make(http, settings).exchange(gateway.issue(open_id="074a-lee"), {})


async def test_answer_slower_than_timeout_is_a_partner_error(
    http: aiohttp.ClientSession, gateway: FakeAlipay, settings: dict[str, Any]
) -> None:
    gateway.mode = "slow"
    async with gives_up_in_time():
        with pytest.raises(PartnerError):
            await make(http, settings | {"timeout_seconds": SHORT_TIMEOUT}).exchange(
                gateway.issue(open_id="074a-max"), {}
            )


async def test_unreachable_gateway_is_a_partner_error(
    http: aiohttp.ClientSession, settings: dict[str, Any]
) -> None:
    with pytest.raises(PartnerError):
        await make(http, settings | {"gateway_url": unused_url()}).exchange("any", {})


async def test_bare_base64_keys_from_the_alipay_console_work(
    http: aiohttp.ClientSession,
    gateway: FakeAlipay,
    settings: dict[str, Any],
    app_key: rsa.RSAPrivateKey,
    alipay_key: rsa.RSAPrivateKey,
) -> None:
    bare = {
        "app_private_key": base64.b64encode(
            app_key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
        ).decode(),
        "alipay_public_key": base64.b64encode(
            alipay_key.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        ).decode(),
    }
    identity = await make(http, settings | bare).exchange(gateway.issue(open_id="074a-ned"), {})
    assert identity.subject == "074a-ned"


@pytest.mark.parametrize("key", ["app_private_key", "alipay_public_key"])
def test_settings_refuse_a_key_that_does_not_load(settings: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        build_adapter("alipay", settings | {key: "-----BEGIN PRIVATE KEY-----\nnope\n"})


def test_settings_require_the_keys(settings: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="app_private_key"):
        build_adapter("alipay", {"app_id": APP_ID, "alipay_public_key": settings["alipay_public_key"]})
