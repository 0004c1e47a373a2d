"""The FX feed adapter against a local aiohttp server that plays the rate feed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bayaffairs.adapters import registry
from bayaffairs.adapters.base import AdapterContext
from bayaffairs.config.regions import AdapterBlock
from bayaffairs.errors import PartnerError
from tests.integrations.support import PATIENT_TIMEOUT, SHORT_TIMEOUT, gives_up_in_time
from tests.support import START, MovableClock


class Feed:
    """Plays the rate feed; tests change what it answers."""

    def __init__(self, clock: MovableClock) -> None:
        self.clock = clock
        self.calls = 0
        self.keys: list[str | None] = []
        self.answer: Any = None
        self.status = 200
        self.stalled = False  # answer nothing until the test ends
        self.released = asyncio.Event()

    async def rates(self, request: web.Request) -> web.Response:
        self.calls += 1
        self.keys.append(request.headers.get("X-Api-Key"))
        if self.stalled:
            await self.released.wait()
        if self.status != 200:
            return web.Response(status=self.status, text="down")
        if isinstance(self.answer, str):
            return web.Response(text=self.answer, content_type="application/json")
        base = request.query["base"]
        body = self.answer or {
            "base": base,
            "as_of": self.clock.now().isoformat(),
            "rates": {"CNY": "0.9201", "MOP": "1.0300"},
        }
        return web.json_response(body)


@pytest.fixture
async def feed(clock: MovableClock) -> AsyncIterator[tuple[Feed, str]]:
    fake = Feed(clock)
    app = web.Application()
    app.router.add_get("/rates", fake.rates)
    server = TestServer(app)
    await server.start_server()
    yield fake, str(server.make_url(""))
    fake.released.set()
    await server.close()


async def adapter(base_url: str, session: aiohttp.ClientSession, clock: MovableClock, **extra: Any) -> Any:
    manifest = registry.discover()["fx_feed"]
    cls = registry.adapter_class("bayaffairs.integrations", manifest)
    block = AdapterBlock(
        "fx",
        "fx_feed",
        True,
        {"base_url": base_url, "api_key": "k-123", "timeout_seconds": PATIENT_TIMEOUT, **extra},
        "test",
    )
    return cls(
        "fx", manifest, registry.validate_settings(cls, block), AdapterContext(http=session, clock=clock)
    )


async def test_rates_come_from_the_feed_with_the_api_key(feed: tuple[Feed, str], clock: MovableClock) -> None:
    fake, url = feed
    async with aiohttp.ClientSession() as session:
        fx = await adapter(url, session, clock)
        rate = await fx.rate("HKD", "CNY", clock.now())
    assert (rate.base, rate.quote, rate.rate, rate.source) == ("HKD", "CNY", Decimal("0.9201"), "fx")
    assert fake.keys == ["k-123"]


async def test_one_request_serves_every_quote_until_refresh(
    feed: tuple[Feed, str], clock: MovableClock
) -> None:
    fake, url = feed
    async with aiohttp.ClientSession() as session:
        fx = await adapter(url, session, clock)
        await asyncio.gather(*(fx.rate("HKD", q, clock.now()) for q in ("CNY", "MOP", "CNY", "MOP")))
    assert fake.calls == 1


async def test_a_stale_feed_is_refused(feed: tuple[Feed, str], clock: MovableClock) -> None:
    fake, url = feed
    fake.answer = {
        "base": "HKD",
        "as_of": (clock.now() - timedelta(days=3)).isoformat(),
        "rates": {"CNY": "0.92"},
    }
    async with aiohttp.ClientSession() as session:
        fx = await adapter(url, session, clock)
        with pytest.raises(PartnerError) as caught:
            await fx.rate("HKD", "CNY", clock.now())
    assert caught.value.code == "fx_rate_unavailable"


@pytest.mark.parametrize(
    "answer",
    [
        "not json",
        {"base": "CNY", "as_of": START.isoformat(), "rates": {"CNY": "1"}},
        {"base": "HKD", "as_of": START.replace(tzinfo=None).isoformat(), "rates": {"CNY": "0.92"}},
        {"base": "HKD", "as_of": START.isoformat(), "rates": {"CNY": "-1"}},
        {"base": "HKD", "as_of": START.isoformat(), "rates": {"CNY": "abc"}},
        {"rates": {}},
    ],
)
async def test_a_malformed_answer_is_unavailable_not_a_crash(
    feed: tuple[Feed, str], clock: MovableClock, answer: Any
) -> None:
    fake, url = feed
    fake.answer = answer
    async with aiohttp.ClientSession() as session:
        fx = await adapter(url, session, clock)
        with pytest.raises(PartnerError):
            await fx.rate("HKD", "CNY", clock.now())


async def test_a_float_rate_is_not_trusted(feed: tuple[Feed, str], clock: MovableClock) -> None:
    fake, url = feed
    fake.answer = {"base": "HKD", "as_of": clock.now().isoformat(), "rates": {"CNY": 0.92}}
    async with aiohttp.ClientSession() as session:
        fx = await adapter(url, session, clock)
        with pytest.raises(PartnerError):
            await fx.rate("HKD", "CNY", clock.now())


async def test_errors_and_timeouts_are_unavailable(feed: tuple[Feed, str], clock: MovableClock) -> None:
    fake, url = feed
    async with aiohttp.ClientSession() as session:
        fake.status = 503
        with pytest.raises(PartnerError):
            await (await adapter(url, session, clock)).rate("HKD", "CNY", clock.now())
        fake.status, fake.stalled = 200, True
        async with gives_up_in_time():
            with pytest.raises(PartnerError):
                await (await adapter(url, session, clock, timeout_seconds=SHORT_TIMEOUT)).rate(
                    "HKD", "CNY", clock.now()
                )


async def test_the_same_currency_needs_no_feed(feed: tuple[Feed, str], clock: MovableClock) -> None:
    fake, url = feed
    async with aiohttp.ClientSession() as session:
        rate = await (await adapter(url, session, clock)).rate("MOP", "MOP", clock.now())
    assert rate.rate == 1 and fake.calls == 0
