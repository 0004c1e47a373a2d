"""Answers with an ETag, and 304 when the client already has them."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from aiohttp import web


def etagged(request: web.Request, body: bytes, headers: Mapping[str, str] | None = None) -> web.Response:
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    all_headers = {"ETag": etag, **(headers or {})}
    if etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=all_headers)
    return web.Response(body=body, content_type="application/json", headers=all_headers)
