"""Operations: liveness, readiness (PostgreSQL and Redis), Prometheus metrics."""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import AsyncIterator, Awaitable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from bayaffairs.config.settings import MetricsSettings
from bayaffairs.handlers.endpoint import documented
from bayaffairs.handlers.errors import error_response
from bayaffairs.handlers.jsonresp import json_response
from bayaffairs.handlers.keys import CONFIG, METRICS, WIRING
from bayaffairs.handlers.metrics import Metrics

routes = web.RouteTableDef()


@routes.get("/healthz")
@documented("Liveness: the process is up")
async def healthz(request: web.Request) -> web.Response:
    """The process is up and answering."""
    return json_response({"status": "ok"})


@routes.get("/readyz")
@documented("Readiness: PostgreSQL and Redis answer (503 when not)")
async def readyz(request: web.Request) -> web.Response:
    """Ready to serve: PostgreSQL and Redis both answer within two seconds."""
    wiring = request.app[WIRING]
    checks = dict(
        zip(
            ("postgres", "redis"),
            await asyncio.gather(_check(wiring.db.ping()), _check(wiring.redis.ping())),
            strict=True,
        )
    )
    if all(v == "ok" for v in checks.values()):
        return json_response({"status": "ready", "checks": checks})
    return error_response(request, 503, "service_unavailable", details={"checks": checks})


async def _check(ping: Awaitable[None]) -> str:
    try:
        await asyncio.wait_for(ping, timeout=2)
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return f"down: {type(exc).__name__}"
    return "ok"


@routes.get("/metrics")
@documented(
    "Prometheus metrics of the whole server (every worker of `serve --workers N`)",
    produces="text/plain",
    description="Per [metrics]: may need `Authorization: Bearer <metrics token>`, or be served on "
    "an address of its own (then 404 here), or be off (404). Includes the backlog of charges, "
    "refunds and offline taps waiting, read from PostgreSQL by one statement at a time, at most "
    "once per `[metrics] backlog_cache_seconds` (left out when it does not answer within "
    "`[metrics] backlog_timeout_seconds`).",
)
async def metrics(request: web.Request) -> web.Response:
    settings = request.app[CONFIG].settings.metrics
    if not settings.enabled or settings.port is not None:
        raise web.HTTPNotFound()
    return await _metrics(request, request.app[METRICS], settings)


async def _metrics(request: web.Request, metrics: Metrics, settings: MetricsSettings) -> web.Response:
    if settings.token is not None:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), settings.token.encode()
        ):
            return error_response(request, 401, "unauthenticated", headers={"WWW-Authenticate": "Bearer"})
    return web.Response(
        body=await metrics.scrape(),
        headers={"Content-Type": CONTENT_TYPE_LATEST, "X-Content-Type-Options": "nosniff"},
    )


async def metrics_site(app: web.Application) -> AsyncIterator[None]:
    """With `[metrics] port`, /metrics (and nothing else) is served at `host:port`, apart from
    the API: a private interface for scrapers. Workers share it (SO_REUSEPORT) as they share
    the API's socket."""
    settings = app[CONFIG].settings.metrics
    if not settings.enabled or settings.port is None:
        yield
        return
    metrics = app[METRICS]

    async def scrape(request: web.Request) -> web.Response:
        return await _metrics(request, metrics, settings)

    site_app = web.Application()
    site_app.router.add_get("/metrics", scrape)
    runner = web.AppRunner(site_app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, settings.host, settings.port, reuse_port=True).start()
        yield
    finally:
        await runner.cleanup()
