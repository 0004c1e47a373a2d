"""Typed application keys: every shared resource of the app, by name."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from bayaffairs.adapters.registry import Adapters
from bayaffairs.clock import Clock
from bayaffairs.config import Config
from bayaffairs.credentials import Principal
from bayaffairs.db.database import Database
from bayaffairs.db.ratelimit import RateLimiter
from bayaffairs.db.redis import Redis
from bayaffairs.handlers.metrics import Metrics
from bayaffairs.handlers.services import Services

CONFIG = web.AppKey("config", Config)
CLOCK = web.AppKey("clock", Clock)
DATABASE = web.AppKey("database", Database)
REDIS = web.AppKey("redis", Redis)
HTTP = web.AppKey("http", aiohttp.ClientSession)
ADAPTERS = web.AppKey("adapters", Adapters)
RATE_LIMITER = web.AppKey("rate_limiter", RateLimiter)
SERVICES = web.AppKey("services", Services)
METRICS = web.AppKey("metrics", Metrics)
OPENAPI = web.AppKey("openapi", bytes)
MAX_BODY = web.AppKey("max_body_bytes", int)

# Per-request values set by the middleware and endpoint().
REQUEST_ID = web.RequestKey("request_id", str)
LANGUAGE = web.RequestKey("language", str)
PRINCIPAL: web.RequestKey[Principal | None] = web.RequestKey("principal")
