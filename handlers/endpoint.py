"""`endpoint()`: what every route shares, declared once per handler.

It authenticates the caller and checks the credential kind and scope, applies the rate limit of
the route class, loads the query and body with marshmallow, and runs Idempotency-Key handling
for creating requests. The same declaration feeds the OpenAPI document.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from marshmallow import Schema, ValidationError

from bayaffairs.audit import AUDITED_KINDS, Action
from bayaffairs.credentials import Principal
from bayaffairs.db.ratelimit import Attempt
from bayaffairs.db.redis import UNAVAILABLE_ERRORS as REDIS_DOWN
from bayaffairs.errors import DomainError, Forbidden, InvalidInput, RateLimited, Unauthenticated
from bayaffairs.handlers.client import client_address
from bayaffairs.handlers.errors import render_domain_error
from bayaffairs.handlers.keys import (
    AUDIT_TARGET,
    LANGUAGE,
    PRINCIPAL,
    RATE_LIMITER,
    REQUEST_ID,
    SERVICES,
    TOKEN_CHECKS,
)
from bayaffairs.i18n import stated_language
from bayaffairs.idempotency import StoredAnswer, check_key, fingerprint
from bayaffairs.wiring.services import Services

log = logging.getLogger("bayaffairs.http")
SCOPE_KINDS = {
    "gate": "operator",
    "operator": "operator",
    "carrier": "carrier",
    "counter": "centre",
    "display": "centre",
}
# A hand check of a hot route's body (or query): what the schema would load when it is plainly
# valid, else None (the schema then decides, with its error messages). Test it against the schema.
FastLoad = Callable[[Any], "dict[str, Any] | None"]


@dataclass(frozen=True)
class Auth:
    """Which credential kinds may call; `scope_from` names the path parameter that must
    equal the credential's scope (an admin passes any scope check it is allowed into)."""

    kinds: tuple[str, ...]
    scope_from: str | None = None


RIDER = Auth(("rider",))
ADMIN = Auth(("admin",))


# What a status answers: a schema, one of several (a tuple: the document's oneOf), or no body.
Answer = type[Schema] | tuple[type[Schema], ...] | None


@dataclass(frozen=True)
class Spec:
    summary: str
    tags: tuple[str, ...]
    auth: Auth | None
    body: type[Schema] | None
    query: type[Schema] | None
    responses: Mapping[int, Answer]
    idempotent: bool
    rate_class: str | None
    description: str = ""
    produces: str = "application/json"
    errors: tuple[int, ...] = field(default_factory=tuple)
    fast_body: FastLoad | None = None
    fast_query: FastLoad | None = None


@dataclass
class Call:
    """Everything a handler needs about the request, already checked and parsed."""

    request: web.Request
    principal: Principal | None
    body: dict[str, Any]
    query: dict[str, Any]

    @property
    def language(self) -> str:
        """The language of the answer: the best of ours for Accept-Language, else English."""
        return self.request[LANGUAGE]

    @property
    def stated_language(self) -> str | None:
        """One of our languages the request names in Accept-Language; None when it names none
        (absent, `*`, only other languages, unreadable): a language kept from before holds."""
        return stated_language(self.request.headers.get("Accept-Language"))

    @property
    def services(self) -> Services:
        return self.request.app[SERVICES]

    def path(self, name: str) -> str:
        return self.request.match_info[name]

    def audit_target(self, target: str) -> None:
        """What this action acted on, for the audit log when no path parameter names it."""
        self.request[AUDIT_TARGET] = target

    @property
    def rider(self) -> str:
        """The rider's user id (the scope of a rider credential)."""
        assert self.principal is not None and self.principal.kind == "rider"
        return self.principal.scope

    @property
    def scope(self) -> str:
        """The scope of the caller's credential: its operator, carrier or centre id."""
        assert self.principal is not None, "a route with credentials"
        return self.principal.scope


HandlerFn = Callable[[Call], Awaitable[web.StreamResponse]]
RequestHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_SPECS: dict[RequestHandler, Spec] = {}


def spec_of(handler: RequestHandler) -> Spec | None:
    """What `endpoint()` or `documented()` declared for a route's handler (None: undocumented)."""
    return _SPECS.get(handler)


_schemas: dict[type[Schema], Schema] = {}


def _schema(cls: type[Schema]) -> Schema:
    instance = _schemas.get(cls)
    if instance is None:
        instance = _schemas[cls] = cls()
    return instance


def dump(schema_cls: type[Schema], obj: Any) -> Any:
    """Shape an answer with a cached schema instance (building one costs ten times the dump)."""
    return _schema(schema_cls).dump(obj)


def documented(
    summary: str,
    *,
    produces: str = "application/json",
    description: str = "",
    tags: tuple[str, ...] = ("operations",),
) -> Callable[[RequestHandler], RequestHandler]:
    """List a plain handler (no body, no credentials: operations, pages) in the OpenAPI document."""

    def wrap(handler: RequestHandler) -> RequestHandler:
        _SPECS[handler] = Spec(
            summary, tags, None, None, None, {200: None}, False, None, description, produces
        )
        return handler

    return wrap


def endpoint(
    *,
    summary: str,
    tags: tuple[str, ...] = (),
    auth: Auth | None = None,
    body: type[Schema] | None = None,
    query: type[Schema] | None = None,
    responses: Mapping[int, Answer] | None = None,
    idempotent: bool = False,
    rate_class: str | None = None,
    description: str = "",
    produces: str = "application/json",
    errors: tuple[int, ...] = (),
    fast_body: FastLoad | None = None,
    fast_query: FastLoad | None = None,
) -> Callable[[HandlerFn], RequestHandler]:
    spec = Spec(
        summary,
        tags,
        auth,
        body,
        query,
        dict(responses or {200: None}),
        idempotent,
        rate_class,
        description,
        produces,
        errors,
        fast_body,
        fast_query,
    )

    def wrap(handler: HandlerFn) -> RequestHandler:
        @functools.wraps(handler)
        async def run(request: web.Request) -> web.StreamResponse:
            principal = await _authenticate(request, spec.auth)
            request[PRINCIPAL] = principal
            if request.app[RATE_LIMITER].limits_any(spec.rate_class, request.method):
                await _limit(request, spec, principal)
            _refuse_nul(request.match_info)
            query_data = _load_query(spec.query, spec.fast_query, _query(request)) if spec.query else {}
            raw = await request.read() if spec.body else b""
            body_data = _load_body(spec.body, spec.fast_body, raw) if spec.body else {}
            call = Call(request, principal, body_data, query_data)
            key = request.headers.get("Idempotency-Key")
            if spec.idempotent and key is not None and principal is not None:
                answer: Awaitable[web.StreamResponse] = _idempotently(
                    call, handler, principal, check_key(key), raw
                )
            else:
                answer = handler(call)
            if principal is None or principal.kind not in AUDITED_KINDS or request.method in ("GET", "HEAD"):
                return await answer
            return await _audited(request, principal, answer)

        _SPECS[run] = spec
        return run

    return wrap


async def _authenticate(request: web.Request, auth: Auth | None) -> Principal | None:
    header = request.headers.get("Authorization", "")
    if auth is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated()
    principal = await authenticate_token(request, token.strip())
    if principal.kind not in auth.kinds:
        raise Forbidden("wrong_credential_kind", details={"allowed": list(auth.kinds)})
    if auth.scope_from and principal.kind != "admin":
        wanted = request.match_info.get(auth.scope_from)
        if wanted != principal.scope:
            raise Forbidden("out_of_scope", scope_kind=SCOPE_KINDS.get(principal.kind, auth.scope_from))
    return principal


async def authenticate_token(request: web.Request, token: str) -> Principal:
    """A bearer token's principal. A token this worker verified lately costs nothing. Any other
    check is an attempt on the client's `auth` limit (the sign-ins' one), given back when the
    token is good: a client trying made-up tokens gets 429 after `auth` failures a window, before
    its tokens reach the database, and other clients (other addresses) are unaffected. With
    Redis down, tokens are still checked (a gate keeps opening), without the limit.

    Requests with a token whose check is running in this worker wait for that check and take no
    attempt: it costs the database nothing more. Else every connection of a device whose cache
    time ran out takes one at once, and a device with more connections than the limit (a busy
    counter, the bench) gets 429s for a good token."""
    credentials = request.app[SERVICES].credentials
    principal = credentials.trusted(token)
    if principal is not None:
        return principal
    checks = request.app[TOKEN_CHECKS]
    running = checks.get(token)
    if running is not None:
        with contextlib.suppress(RateLimited):  # that request's client was over its limit: try ours
            return await asyncio.shield(running)
    check = asyncio.ensure_future(_checked(request, token))
    checks[token] = check
    check.add_done_callback(lambda done: _check_done(checks, token, done))
    return await asyncio.shield(check)


def _check_done(
    checks: dict[str, asyncio.Future[Principal]], token: str, done: asyncio.Future[Principal]
) -> None:
    if checks.get(token) is done:
        del checks[token]
    if not done.cancelled():
        done.exception()  # retrieved here too: every waiter may have gone


async def _checked(request: web.Request, token: str) -> Principal:
    limiter = request.app[RATE_LIMITER]
    try:
        attempt: Attempt | None = await limiter.attempt("auth", f"ip:{client_address(request)}")
    except REDIS_DOWN as exc:
        log.warning("authentication without its rate limit (Redis unavailable): %r", exc)
        attempt = None
    if attempt is not None and attempt.retry_after is not None:
        raise RateLimited(attempt.retry_after)
    principal = await request.app[SERVICES].credentials.authenticate(token)
    if attempt is not None:
        with contextlib.suppress(*REDIS_DOWN):
            await limiter.refund(attempt)
    return principal


async def _limit(request: web.Request, spec: Spec, principal: Principal | None) -> None:
    route_class = spec.rate_class or ("read" if request.method in ("GET", "HEAD") else "write")
    who = principal.key if principal else f"ip:{client_address(request)}"
    retry_after = await request.app[RATE_LIMITER].hit(route_class, who)
    if retry_after is not None:
        raise RateLimited(retry_after)


async def _audited(
    request: web.Request, principal: Principal, answer: Awaitable[web.StreamResponse]
) -> web.StreamResponse:
    """An admin's or counter's change, answered, then written to the audit log (refusals too)."""
    try:
        response = await answer
    except DomainError as exc:
        await _record(request, principal, exc.status, exc.code)
        raise
    await _record(request, principal, response.status)
    return response


async def _record(request: web.Request, principal: Principal, status: int, code: str | None = None) -> None:
    route = request.match_info.route.resource
    target = request.get(AUDIT_TARGET) or ",".join(request.match_info.values()) or request.path
    action = Action(
        actor=principal.key,
        actor_kind=principal.kind,
        scope=principal.scope,
        action=f"{request.method} {route.canonical if route else request.path}",
        target=target,
        status=status,
        request_id=request[REQUEST_ID],
        code=code,
    )
    try:
        await request.app[SERVICES].audit.record(action)
    except Exception:
        log.exception("audit entry not written: %s", action)


NUL = "must not contain the NUL character"
ONCE = "given more than once"


def _refuse_nul(values: Mapping[str, Any]) -> Mapping[str, Any]:
    """Path and query parameters with a NUL character are a 400: PostgreSQL's text cannot hold
    one, and a look-up with it failed as a 500."""
    bad = {name: [NUL] for name, value in values.items() if _has_nul(value)}
    if bad:
        raise InvalidInput(bad)
    return values


def _query(request: web.Request) -> dict[str, str]:
    """The query as one value per name: no parameter takes several, so one given twice is a 400
    (not its first value used and the others ignored)."""
    repeated = {name for name in request.query if len(request.query.getall(name)) > 1}
    if repeated:
        raise InvalidInput({name: [ONCE] for name in sorted(repeated)})
    return dict(_refuse_nul(dict(request.query)))


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _parse_json(raw: bytes) -> Any:
    if not raw.strip():
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise DomainError("malformed_json") from None
    if b"\\u0000" not in raw:  # JSON text holds a NUL only as \u0000 (orjson refuses a raw one)
        return data
    if isinstance(data, dict):
        _refuse_nul(data)
    elif _has_nul(data):
        raise InvalidInput({"_schema": [NUL]})
    return data


def _load_body(schema_cls: type[Schema], fast: FastLoad | None, raw: bytes) -> dict[str, Any]:
    data = _parse_json(raw)
    loaded = fast(data) if fast is not None else None
    return loaded if loaded is not None else _load(schema_cls, data)


def _load_query(schema_cls: type[Schema], fast: FastLoad | None, data: dict[str, str]) -> dict[str, Any]:
    loaded = fast(data) if fast is not None else None
    return loaded if loaded is not None else _load(schema_cls, data)


def _load(schema_cls: type[Schema], data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InvalidInput({"_schema": ["the body must be a JSON object"]})
    try:
        return _schema(schema_cls).load(data)
    except ValidationError as exc:
        raise InvalidInput(
            _string_keys(exc.messages) if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        ) from None


def _string_keys(messages: Any) -> Any:
    """Errors inside lists are keyed by index (an int), which JSON objects cannot hold."""
    if isinstance(messages, dict):
        return {str(k): _string_keys(v) for k, v in messages.items()}
    return messages


async def _idempotently(
    call: Call, handler: HandlerFn, principal: Principal, key: str, raw: bytes
) -> web.StreamResponse:
    keys = call.services.idempotency
    request = call.request
    stored = await keys.begin(principal.key, key, fingerprint(request.method, request.path, raw))
    if stored is not None:
        return web.Response(
            body=stored.body,
            status=stored.status,
            content_type=stored.content_type,
            headers={"Idempotent-Replayed": "true"},
        )
    try:
        response = await handler(call)
    except DomainError as exc:
        response = render_domain_error(request, exc)
    except BaseException:
        await keys.abandon(principal.key, key)
        raise
    body = response.body if isinstance(response, web.Response) else None
    if not isinstance(body, (bytes, bytearray)):  # a streamed answer is not kept
        await keys.abandon(principal.key, key)
        return response
    await keys.finish(principal.key, key, StoredAnswer(response.status, bytes(body), response.content_type))
    return response
