"""`create_app(config)`: the one way to build the web application, for `serve` and tests alike."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

import aiohttp
from aiohttp import web

from bayaffairs.adapters import registry
from bayaffairs.adapters.base import AdapterContext
from bayaffairs.clock import Clock, SystemClock
from bayaffairs.config import Config
from bayaffairs.credentials import ScopeCatalog
from bayaffairs.db.codes import RedisCodeStore
from bayaffairs.db.database import Database
from bayaffairs.db.ratelimit import RateLimiter
from bayaffairs.db.redis import Redis
from bayaffairs.handlers import (
    admin,
    appointments,
    background,
    carrier,
    consents,
    counter,
    docs,
    documents,
    frontends,
    gate,
    health,
    journeys,
    me,
    operators,
    privacy,
    regions,
    ridecodes,
    sessions,
    travel,
)
from bayaffairs.handlers.keys import (
    ADAPTERS,
    CLOCK,
    CONFIG,
    DATABASE,
    HTTP,
    MAX_BODY,
    METRICS,
    RATE_LIMITER,
    REDIS,
    SERVICES,
)
from bayaffairs.handlers.metrics import Metrics
from bayaffairs.handlers.middleware import observe
from bayaffairs.handlers.services import build_services
from bayaffairs.money import MINOR_UNITS

log = logging.getLogger("bayaffairs.app")
ROUTE_MODULES = (
    health,
    docs,
    regions,
    sessions,
    me,
    documents,
    consents,
    privacy,
    admin,
    ridecodes,
    gate,
    journeys,
    operators,
    travel,
    carrier,
    appointments,
    counter,
    frontends,
)


def create_app(
    config: Config, *, clock: Clock | None = None, scopes: ScopeCatalog | None = None
) -> web.Application:
    """Build the app; resources start and stop with it, each in its own cleanup context.

    `scopes` replaces the scope catalogue built from the adapters (tests use it).
    """
    settings = config.settings
    app = web.Application(middlewares=[observe], client_max_size=settings.server.max_body_bytes)
    app[CONFIG] = config
    app[CLOCK] = clock or SystemClock()
    app[MAX_BODY] = settings.server.max_body_bytes
    app[METRICS] = Metrics()
    app.cleanup_ctx.extend(
        [
            _database,
            _redis,
            _http_session,
            _adapters,
            _services(scopes),
            _transit,
            _background_jobs,
            travel.jobs,
        ]
    )
    for module in ROUTE_MODULES:
        app.add_routes(module.routes)
    docs.setup(app)
    return app


async def _database(app: web.Application) -> AsyncIterator[None]:
    database = Database(app[CONFIG].settings.database)
    await database.start()
    app[DATABASE] = database
    app[METRICS].watch_pool(database.stats)
    yield
    await database.stop()


async def _redis(app: web.Application) -> AsyncIterator[None]:
    redis = Redis(app[CONFIG].settings.redis)
    await redis.start()
    app[REDIS] = redis
    app[RATE_LIMITER] = RateLimiter(redis, dict(app[CONFIG].settings.rate_limits))
    yield
    await redis.stop()


async def _http_session(app: web.Application) -> AsyncIterator[None]:
    session = aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=15, connect=5),
        headers={"User-Agent": "bayaffairs/0.1"},
    )
    app[HTTP] = session
    yield
    await session.close()


async def _adapters(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    manifests = registry.discover()
    context = AdapterContext(http=app[HTTP], clock=app[CLOCK], jurisdictions=config.jurisdictions)
    adapters = registry.load(config.adapter_blocks, manifests, context)
    await adapters.start()
    app[ADAPTERS] = adapters
    yield
    await adapters.close()


def _services(scopes: ScopeCatalog | None) -> Callable[[web.Application], AsyncIterator[None]]:
    async def services(app: web.Application) -> AsyncIterator[None]:
        store = RedisCodeStore(app[REDIS])
        app[SERVICES] = build_services(app[CONFIG], app[DATABASE], app[ADAPTERS], app[CLOCK], store, scopes)
        yield

    return services


async def _transit(app: web.Application) -> AsyncIterator[None]:
    """The scan writers (group commit) and the QR renderer's process."""
    transit = app[SERVICES].transit
    transit.renderer.start()
    await transit.scans.start()
    warming = asyncio.create_task(transit.converter.warm(MINOR_UNITS))  # rates before the first scan
    yield
    warming.cancel()
    await transit.scans.stop()
    transit.renderer.stop()


async def _background_jobs(app: web.Application) -> AsyncIterator[None]:
    """Housekeeping on a timer; every job is safe to run in several workers at once."""
    services = app[SERVICES]
    jobs: list[background.Job] = [
        ("purge idempotency keys", 600.0, services.idempotency.purge_expired),
        ("purge expired credentials", 3600.0, services.credentials.purge_expired),
        ("purge data-transfer records past retention", 3600.0, services.transfers.purge_expired),
        ("build data exports", 1.0, services.privacy.exports.build_pending),
        ("finish account deletions", 30.0, services.privacy.deletion.resume_due),
        ("close journeys without tap-out", 60.0, services.transit.journeys.close_overdue),
        ("record offline taps", 2.0, services.transit.uploads.drain),
        ("charge riders for journeys", 5.0, services.transit.charges.charge_pending),
        ("send appointment reminders", 30.0, services.appointments.reminders.send_due),
        ("push appointments to agencies", 5.0, services.appointments.outbox.drain),
    ]
    async with background.running(jobs, log):
        yield
