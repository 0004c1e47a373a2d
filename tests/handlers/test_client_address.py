"""The client address used by rate limits and the access log: X-Forwarded-For counts only when
the connection comes from one of `[server] trusted_proxies` (empty by default)."""

from __future__ import annotations

import logging

import pytest

from bayaffairs.config.errors import ConfigError
from tests.conftest import AppFactory
from tests.support import Api, test_config

SIGN_IN_TWICE = {"rate_limits": {"auth": "2/60"}}


async def _sign_in_as(api: Api, forwarded_for: str | None, handle: str) -> int:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    status, _ = await api.post("/v1/auth/sessions", {"provider": "dev", "code": handle}, headers=headers)
    return status


async def test_an_untrusted_peer_cannot_spoof_its_address_with_x_forwarded_for(
    make_api: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    api = await make_api(test_config({**SIGN_IN_TWICE, "logging": {"access_log": True}}))
    caplog.set_level(logging.INFO, logger="bayaffairs.access")
    statuses = [await _sign_in_as(api, f"198.51.100.{n}", f"spoof-{n}") for n in range(4)]
    assert statuses == [201, 201, 429, 429]  # one client (127.0.0.1), whatever it claims
    remotes = {r.fields["remote"] for r in caplog.records if r.name == "bayaffairs.access"}
    assert remotes == {"127.0.0.1"}


async def test_a_peer_outside_the_trusted_networks_is_not_believed(make_api: AppFactory) -> None:
    api = await make_api(test_config({**SIGN_IN_TWICE, "server": {"trusted_proxies": ["10.0.0.0/8"]}}))
    statuses = [await _sign_in_as(api, f"198.51.100.{n}", f"outside-{n}") for n in range(3)]
    assert statuses == [201, 201, 429]


async def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit(
    make_api: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    config = {**SIGN_IN_TWICE, "server": {"trusted_proxies": ["127.0.0.1"]}, "logging": {"access_log": True}}
    api = await make_api(test_config(config))
    caplog.set_level(logging.INFO, logger="bayaffairs.access")
    first = [await _sign_in_as(api, "198.51.100.1", f"one-{n}") for n in range(3)]
    # The rightmost address the trusted proxy did not add itself is the client: what a client
    # writes into the header before the proxy appends is not believed.
    second = [await _sign_in_as(api, f"203.0.113.{n}, 198.51.100.2", f"two-{n}") for n in range(3)]
    assert (first, second) == ([201, 201, 429], [201, 201, 429])
    remotes = {r.fields["remote"] for r in caplog.records if r.name == "bayaffairs.access"}
    assert remotes == {"198.51.100.1", "198.51.100.2"}


async def test_a_chain_of_trusted_proxies_is_walked_back_to_the_client(make_api: AppFactory) -> None:
    api = await make_api(
        test_config({**SIGN_IN_TWICE, "server": {"trusted_proxies": ["127.0.0.1", "10.0.0.0/8"]}})
    )
    chain = "198.51.100.7, 10.1.2.3"
    assert [await _sign_in_as(api, chain, f"chain-{n}") for n in range(3)] == [201, 201, 429]
    assert await _sign_in_as(api, "198.51.100.8, 10.1.2.3", "chain-other") == 201


async def test_a_garbled_forwarded_header_falls_back_to_the_proxy(make_api: AppFactory) -> None:
    api = await make_api(test_config({**SIGN_IN_TWICE, "server": {"trusted_proxies": ["127.0.0.1"]}}))
    statuses = [await _sign_in_as(api, f"not-an-address-{n}", f"garbled-{n}") for n in range(3)]
    assert statuses == [201, 201, 429]


def test_trusted_proxies_must_be_addresses_or_networks() -> None:
    with pytest.raises(ConfigError, match=r"server\.trusted_proxies"):
        test_config({"server": {"trusted_proxies": ["proxy.example"]}})
