"""`[metrics]`: /metrics is on by default; it can need a bearer token, move to an address of its
own (then the API's port does not serve it), or be switched off."""

from __future__ import annotations

import socket

import aiohttp
import pytest

from bayaffairs.config.errors import ConfigError
from tests.conftest import AppFactory
from tests.support import test_config

TOKEN = "metrics-scraper-token-0123456789"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_metrics_are_served_by_default(make_api: AppFactory) -> None:
    api = await make_api()
    status, body = await api.get("/metrics")
    assert status == 200 and b"bayaffairs_http_requests" in body


async def test_a_metrics_token_is_required_when_configured(make_api: AppFactory) -> None:
    api = await make_api(test_config({"metrics": {"token": TOKEN}}))
    assert (await api.get("/metrics"))[0] == 401
    assert (await api.as_("not-the-token-at-all-0123456789").get("/metrics"))[0] == 401
    status, body = await api.as_(TOKEN).get("/metrics")
    assert status == 200 and b"bayaffairs_http_requests" in body


async def test_metrics_can_be_switched_off(make_api: AppFactory) -> None:
    api = await make_api(test_config({"metrics": {"enabled": False}}))
    status, body = await api.get("/metrics")
    assert (status, body["error"]["code"]) == (404, "route_not_found")


async def test_metrics_on_an_address_of_their_own_leave_the_api_port(make_api: AppFactory) -> None:
    port = _free_port()
    api = await make_api(test_config({"metrics": {"host": "127.0.0.1", "port": port, "token": TOKEN}}))
    assert (await api.get("/healthz"))[0] == 200
    assert (await api.as_(TOKEN).get("/metrics"))[0] == 404
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{port}/metrics") as resp:
            assert resp.status == 401
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with session.get(f"http://127.0.0.1:{port}/metrics", headers=headers) as resp:
            assert resp.status == 200
            text = await resp.text()
        async with session.get(f"http://127.0.0.1:{port}/v1/regions") as resp:
            assert resp.status == 404  # only the metrics there
    assert 'route="/healthz"' in text  # the API's own requests, counted


def test_a_short_metrics_token_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"metrics\.token"):
        test_config({"metrics": {"token": "short"}})
