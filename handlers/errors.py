"""The single place where failures become the contract's JSON error shape."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from marshmallow import ValidationError

from bayaffairs.db.database import UNAVAILABLE_ERRORS as DATABASE_DOWN
from bayaffairs.db.redis import UNAVAILABLE_ERRORS as REDIS_DOWN
from bayaffairs.errors import DomainError, RateLimited
from bayaffairs.field_messages import translate_fields
from bayaffairs.handlers.jsonresp import json_response
from bayaffairs.handlers.keys import LANGUAGE, MAX_BODY, REQUEST_ID
from bayaffairs.i18n import negotiate
from bayaffairs.messages import message_for

log = logging.getLogger("bayaffairs.http")

_HTTP_CODES = {
    400: "bad_request",
    404: "route_not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
}


def error_response(
    request: web.Request,
    status: int,
    code: str,
    *,
    details: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    language = request.get(LANGUAGE) or negotiate(request.headers.get("Accept-Language"))
    details = dict(details or {})
    if "fields" in details:
        details["fields"] = translate_fields(details["fields"], language)
    body = {
        "error": {
            "code": code,
            "message": message_for(code, language, status, **(params or {})),
            "details": details,
            "request_id": request.get(REQUEST_ID),
        }
    }
    return json_response(body, status=status, headers=headers)


def render_domain_error(request: web.Request, exc: DomainError) -> web.Response:
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
    return error_response(
        request, exc.status, exc.code, details=exc.details, params=exc.params, headers=headers
    )


def render_exception(request: web.Request, exc: BaseException) -> web.Response:
    """Any exception raised while answering, as a JSON error response."""
    if isinstance(exc, DomainError):
        return render_domain_error(request, exc)
    if isinstance(exc, web.HTTPException):
        status = exc.status
        details: dict[str, Any] = {}
        headers: dict[str, str] = {}
        params: dict[str, Any] = {}
        if status == 405 and isinstance(exc, web.HTTPMethodNotAllowed):
            allowed = sorted(exc.allowed_methods)
            details["allowed"] = allowed
            headers["Allow"] = ", ".join(allowed)
        if status == 413:
            params["limit"] = request.app[MAX_BODY]
        return error_response(
            request,
            status,
            _HTTP_CODES.get(status, "bad_request" if status < 500 else "internal_error"),
            details=details,
            params=params,
            headers=headers,
        )
    if isinstance(exc, ValidationError):
        return error_response(request, 400, "invalid_request", details={"fields": exc.messages})
    if isinstance(exc, (*DATABASE_DOWN, *REDIS_DOWN, asyncio.TimeoutError)):
        log.warning("backing service unavailable: %r", exc)
        return error_response(request, 503, "service_unavailable")
    log.exception("unhandled error", exc_info=exc)
    return error_response(request, 500, "internal_error")
