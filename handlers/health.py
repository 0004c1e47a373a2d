"""Operations: liveness, readiness (PostgreSQL and Redis), Prometheus metrics."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from bayaffairs.handlers.endpoint import documented
from bayaffairs.handlers.errors import error_response
from bayaffairs.handlers.jsonresp import json_response
from bayaffairs.handlers.keys import METRICS, WIRING

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
@documented("Prometheus metrics of this worker", produces="text/plain")
async def metrics(request: web.Request) -> web.Response:
    body = request.app[METRICS].render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
