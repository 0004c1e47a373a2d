"""Typed application keys: every shared resource of the app, by name, in this one module."""

from __future__ import annotations

import asyncio

from aiohttp import web

from bayaffairs.config import Config
from bayaffairs.credentials import Principal
from bayaffairs.db.ratelimit import RateLimiter
from bayaffairs.handlers.metrics import Metrics
from bayaffairs.wiring.root import Wiring
from bayaffairs.wiring.services import Services

CONFIG = web.AppKey("config", Config)
WIRING = web.AppKey("wiring", Wiring)  # database, Redis, HTTP session, adapters, services
SERVICES = web.AppKey("services", Services)  # WIRING's services, one lookup away for every handler
RATE_LIMITER = web.AppKey("rate_limiter", RateLimiter)
METRICS = web.AppKey("metrics", Metrics)
OPENAPI = web.AppKey("openapi", bytes)
MAX_BODY = web.AppKey("max_body_bytes", int)
JOBS: web.AppKey[tuple[str, ...]] = web.AppKey("jobs")  # the names of the periodic jobs this app runs
# Bearer tokens being checked in this worker (endpoint.authenticate_token): later requests join.
TOKEN_CHECKS: web.AppKey[dict[str, asyncio.Future[Principal]]] = web.AppKey("token_checks")

# Per-request values set by the middleware and endpoint().
REQUEST_ID = web.RequestKey("request_id", str)
LANGUAGE = web.RequestKey("language", str)
PRINCIPAL: web.RequestKey[Principal | None] = web.RequestKey("principal")
CLIENT = web.RequestKey("client_address", str)  # handlers/client.py
AUDIT_TARGET = web.RequestKey("audit_target", str)  # what an audited action acted on
