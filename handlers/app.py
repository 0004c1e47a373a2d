"""`create_app(config)`: the one way to build the web application, for `serve` and tests alike."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from aiohttp import web

from bayaffairs.clock import Clock
from bayaffairs.config import Config
from bayaffairs.credentials import ScopeCatalog
from bayaffairs.db.ratelimit import RateLimiter
from bayaffairs.handlers import (
    admin,
    appointments,
    carrier,
    consents,
    counter,
    docs,
    documents,
    fare_products,
    frontends,
    gate,
    headers,
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
    CONFIG,
    JOBS,
    MAX_BODY,
    METRICS,
    RATE_LIMITER,
    SERVICES,
    TOKEN_CHECKS,
    WIRING,
)
from bayaffairs.handlers.metrics import Metrics
from bayaffairs.handlers.middleware import observe
from bayaffairs.wiring.jobs import Plan, periodic
from bayaffairs.wiring.root import assembled, serving

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
    fare_products,
    operators,
    travel,
    carrier,
    appointments,
    counter,
    frontends,
)


def create_app(
    config: Config,
    *,
    clock: Clock | None = None,
    scopes: ScopeCatalog | None = None,
    jobs: Plan = periodic,
) -> web.Application:
    """Build the app. Its resources and services come from the composition root
    (`bayaffairs.wiring.root`), entered at startup and left at cleanup.

    `scopes` replaces the scope catalogue built from the adapters (tests use it); `jobs` chooses
    the periodic jobs the app runs (all of them unless told: tests run none unless they ask).
    """
    settings = config.settings
    app = web.Application(middlewares=[observe], client_max_size=settings.server.max_body_bytes)
    app[CONFIG] = config
    app[MAX_BODY] = settings.server.max_body_bytes
    app[METRICS] = Metrics()
    app[TOKEN_CHECKS] = {}
    app.cleanup_ctx.append(_wired(clock, scopes, jobs))
    app.cleanup_ctx.append(health.metrics_site)
    for module in ROUTE_MODULES:
        app.add_routes(module.routes)
    docs.setup(app)
    headers.setup(app)
    return app


def _wired(
    clock: Clock | None, scopes: ScopeCatalog | None, plan: Plan
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def wired(app: web.Application) -> AsyncIterator[None]:
        async with assembled(app[CONFIG], clock=clock, scopes=scopes) as wiring:
            app[WIRING] = wiring
            app[SERVICES] = wiring.services
            app[RATE_LIMITER] = RateLimiter(
                wiring.redis, dict(app[CONFIG].settings.rate_limits), wiring.clock
            )
            app[METRICS].watch_pool(wiring.db.stats)
            app[METRICS].watch_retention(wiring.services.privacy.retention.stats)
            app[METRICS].watch_agency_outbox(wiring.services.appointments.outbox.stats)
            metrics = app[CONFIG].settings.metrics
            backlog = wiring.services.transit.backlog
            app[METRICS].watch_backlog(
                lambda: backlog.read(metrics.backlog_limit),
                limit=metrics.backlog_limit,
                timeout=metrics.backlog_timeout_seconds,
                max_age=metrics.backlog_cache_seconds,
                now=lambda: wiring.clock.now().timestamp(),
            )
            planned = list(plan(wiring.services))
            app[JOBS] = tuple(job.name for job in planned)
            async with serving(wiring, lambda _: planned), app[METRICS].refreshing():
                yield

    return wired
