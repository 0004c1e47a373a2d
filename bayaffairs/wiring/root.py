"""`assembled(config)`: the one place the service's resources and services are built.

Each resource starts in order (database, Redis, the HTTP session partners are called through,
the adapters) and stops in reverse; one that did not start is not stopped. The services are
built on them once (`bayaffairs.wiring.services`). `create_app` and every `bayaffairs` command
enter it; a serving app also enters `serving(wiring)`. A command that needs less takes less from
here too: `database(config)` (migrations) or `load_adapters(config)` (check-config).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol, TypeVar

import aiohttp

import bayaffairs
from bayaffairs.adapters import registry
from bayaffairs.adapters.base import AdapterContext
from bayaffairs.adapters.registry import Adapters
from bayaffairs.appointments.changes import CHANNEL
from bayaffairs.clock import Clock, SystemClock
from bayaffairs.config import Config
from bayaffairs.credentials import ScopeCatalog
from bayaffairs.db.codes import RedisCodeStore
from bayaffairs.db.database import Database
from bayaffairs.db.notifications import Listener, listening
from bayaffairs.db.redis import Redis
from bayaffairs.money import MINOR_UNITS
from bayaffairs.wiring import jobs
from bayaffairs.wiring.services import Services, build_services

log = logging.getLogger("bayaffairs.app")


@dataclass(frozen=True)
class Wiring:
    config: Config
    clock: Clock
    db: Database
    redis: Redis
    http: aiohttp.ClientSession
    adapters: Adapters
    services: Services


def load_adapters(
    config: Config, *, http: aiohttp.ClientSession | None = None, clock: Clock | None = None
) -> Adapters:
    """The adapters config enables, built (their settings validated) but not started."""
    context = AdapterContext(http=http, clock=clock or SystemClock())
    return registry.load(config.adapter_blocks, registry.discover(), context)


@contextlib.asynccontextmanager
async def assembled(
    config: Config, *, clock: Clock | None = None, scopes: ScopeCatalog | None = None
) -> AsyncIterator[Wiring]:
    """Everything started, and the services built on it. `scopes` replaces the catalogue of
    credential scopes the adapters give (tests use it)."""
    clock = clock or SystemClock()
    async with contextlib.AsyncExitStack() as stack:
        db = await stack.enter_async_context(database(config))
        redis = await stack.enter_async_context(_started(Redis(config.settings.redis)))
        http = await stack.enter_async_context(_http_session())
        adapters = await stack.enter_async_context(_adapters(config, http, clock))
        services = build_services(config, db, adapters, clock, RedisCodeStore(redis), scopes)
        yield Wiring(config, clock, db, redis, http, adapters, services)


@contextlib.asynccontextmanager
async def serving(wiring: Wiring, plan: jobs.Plan = jobs.periodic) -> AsyncIterator[None]:
    """What runs while the app serves: the scan writers (group commit), the QR renderer's
    process, FX rates fetched before the first scan, departures for the days ahead, the LISTEN
    session that keeps the centres' change numbers in memory, and the periodic jobs of `plan`
    (every one of them in a served app). All of it is safe in several workers at once."""
    transit, travel = wiring.services.transit, wiring.services.travel
    changes = wiring.services.appointments.changes
    listener = Listener(wiring.db, CHANNEL, heard=changes.heard, up=changes.connected, down=changes.lost)
    transit.renderer.start()
    await transit.scans.start()
    warming = asyncio.create_task(transit.converter.warm(MINOR_UNITS))
    try:
        try:
            await travel.departures.materialise()
        except Exception:  # the database may be down at start: the app still starts (503s)
            log.exception("materialising departures failed; retrying on the next run")
        async with (
            listening(listener),
            jobs.running(plan(wiring.services), log, jobs.Owners(wiring.db, log)),
        ):
            yield
    finally:
        warming.cancel()
        await transit.scans.stop()
        transit.renderer.stop()


def database(config: Config) -> contextlib.AbstractAsyncContextManager[Database]:
    """The database alone, for what needs nothing else (migrations, the schema check)."""
    return _started(Database(config.settings.database))


class _Resource(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


_R = TypeVar("_R", bound=_Resource)


@contextlib.asynccontextmanager
async def _started(resource: _R) -> AsyncIterator[_R]:
    await resource.start()
    try:
        yield resource
    finally:
        await resource.stop()


@contextlib.asynccontextmanager
async def _http_session() -> AsyncIterator[aiohttp.ClientSession]:
    """The session every remote adapter calls its partner through; adapters set their own,
    shorter, per-request timeouts."""
    session = aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=15, connect=5),
        headers={"User-Agent": f"bayaffairs/{bayaffairs.__version__}"},
    )
    try:
        yield session
    finally:
        await session.close()


@contextlib.asynccontextmanager
async def _adapters(config: Config, http: aiohttp.ClientSession, clock: Clock) -> AsyncIterator[Adapters]:
    adapters = load_adapters(config, http=http, clock=clock)
    await adapters.start()
    try:
        yield adapters
    finally:
        await adapters.close()
