"""The middleware: request id, language, timing, metrics, access log and error rendering."""

from __future__ import annotations

import logging
import os
import re
import time

from aiohttp import web
from aiohttp.typedefs import Handler

from bayaffairs.handlers.client import client_address
from bayaffairs.handlers.errors import render_exception
from bayaffairs.handlers.keys import CONFIG, LANGUAGE, METRICS, PRINCIPAL, REQUEST_ID
from bayaffairs.handlers.logs import CURRENT_REQUEST_ID
from bayaffairs.i18n import negotiate

access_log = logging.getLogger("bayaffairs.access")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def _route_name(request: web.Request) -> str:
    info = request.match_info
    route = getattr(info, "route", None)
    resource = getattr(route, "resource", None)
    if resource is None or getattr(info, "http_exception", None) is not None:
        return "unmatched"
    return resource.canonical


@web.middleware
async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Outermost: gives the request an id and language, times it, logs and counts it."""
    incoming = request.headers.get("X-Request-Id", "")
    # os.urandom, as secrets.token_hex(8) does, without its three Python calls (every request)
    request_id = incoming if _SAFE_ID.match(incoming) else os.urandom(8).hex()
    token = CURRENT_REQUEST_ID.set(request_id)
    request[REQUEST_ID] = request_id
    request[LANGUAGE] = negotiate(request.headers.get("Accept-Language"))
    started = time.perf_counter()
    try:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            response = render_exception(request, exc)
        except Exception as exc:  # noqa: BLE001 - every failure becomes the JSON error shape
            response = render_exception(request, exc)
        response.headers["X-Request-Id"] = request_id
        if "Content-Language" not in response.headers and response.content_type == "application/json":
            response.headers["Content-Language"] = request[LANGUAGE]
        elapsed = time.perf_counter() - started
        route = _route_name(request)
        request.app[METRICS].observe(request.method, route, response.status, elapsed)
        if request.app[CONFIG].settings.logging.access_log:
            access_log.info(
                "%s %s %s",
                request.method,
                request.path,
                response.status,
                extra={
                    "fields": {
                        "method": request.method,
                        "path": request.path,
                        "route": route,
                        "status": response.status,
                        "ms": round(elapsed * 1000, 2),
                        "principal": getattr(request.get(PRINCIPAL), "key", None),
                        "remote": client_address(request),
                    }
                },
            )
        return response
    finally:
        CURRENT_REQUEST_ID.reset(token)
