"""Helpers for adapter tests: build adapters the way the registry does (on the test clock), and
a base for fake partners served by a real local aiohttp server."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

import bayaffairs.integrations
from bayaffairs.adapters.base import Adapter, AdapterContext
from bayaffairs.adapters.registry import adapter_class, read_manifest, validate_settings
from bayaffairs.clock import Clock
from bayaffairs.config.regions import AdapterBlock
from tests.support import MovableClock

INTEGRATIONS = Path(bayaffairs.integrations.__file__).parent
PACKAGE = "bayaffairs.integrations"

PATIENT_TIMEOUT = 10.0
"""The partner timeout of adapter tests that are not about timeouts: a local fake answers long
before it, so only a stalled machine could fail them (a sub-second one failed them under load)."""
SHORT_TIMEOUT = 0.2
"""The partner timeout of tests that are about a partner too slow, passed explicitly and always
against an answer the fake holds or stalls until the test lets it go, so it fires however loaded
the machine is (never against a `delay` just longer than it)."""
GAVE_UP_WITHIN = 5.0
"""How soon a caller facing a partner that never answers must give up: far above SHORT_TIMEOUT
(no race with a loaded machine), far below aiohttp's 300 s default that a caller ignoring its
timeout would wait."""


@contextlib.asynccontextmanager
async def gives_up_in_time() -> AsyncIterator[None]:
    """Around a call to a partner that never answers (stalled or held): the call must end within
    GAVE_UP_WITHIN, which only the adapter's own timeout can do. A caller that ignores its
    timeout fails the test here instead of passing after aiohttp's default 300 s."""
    try:
        async with asyncio.timeout(GAVE_UP_WITHIN):
            yield
    except TimeoutError:
        pytest.fail(f"the call did not give up within {GAVE_UP_WITHIN} s: its timeout was not applied")


def build_adapter(
    adapter_id: str,
    settings: Mapping[str, Any] | None = None,
    *,
    http: aiohttp.ClientSession | None = None,
    clock: Clock | None = None,
    instance: str | None = None,
) -> Any:
    """Manifest, class and settings through the registry's own functions, as config would."""
    manifest = read_manifest(INTEGRATIONS / adapter_id)
    cls: type[Adapter] = adapter_class(PACKAGE, manifest)
    block = AdapterBlock(instance or adapter_id, adapter_id, True, dict(settings or {}), "tests")
    context = AdapterContext(http=http, clock=clock or MovableClock())
    return cls(block.instance, manifest, validate_settings(cls, block), context)


class FakePartner:
    """A partner played by an aiohttp server on 127.0.0.1 (random port) for one test.

    Subclasses add routes in `setup(app)`. `stall()` holds an answer until the test ends, to
    play a partner slower than the adapter's timeout without slowing the suite.
    """

    def __init__(self) -> None:
        self._release = asyncio.Event()
        self._server: TestServer | None = None

    def setup(self, app: web.Application) -> None:
        raise NotImplementedError

    @property
    def url(self) -> str:
        assert self._server is not None, "use the fake as an async context manager"
        return str(self._server.make_url("/"))

    async def stall(self) -> None:
        await self._release.wait()

    async def __aenter__(self) -> Self:
        app = web.Application()
        self.setup(app)
        self._server = TestServer(app, host="127.0.0.1", port=0)
        await self._server.start_server()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._release.set()
        assert self._server is not None
        await self._server.close()


def unused_url() -> str:
    """A URL nothing listens on: a socket we bound and closed again."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
