"""The OpenAPI 3 document, generated from the routes' `endpoint()` declarations with apispec."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema

import bayaffairs
from bayaffairs.handlers.endpoint import Spec, spec_of
from bayaffairs.handlers.schemas.common import ErrorSchema

_PARAM = re.compile(r"{(\w+)(?::[^}]*)?}")
_ERROR_TEXT = {
    400: "Malformed or invalid input (details.fields maps fields to messages)",
    401: "No or bad credentials",
    403: "Authenticated, but not allowed here",
    404: "Not found",
    409: "Conflict with the current state",
    410: "Expired",
    413: "Body too large",
    422: "Idempotency-Key reused with a different body",
    429: "Rate limited (see Retry-After)",
    502: "A partner system failed; nothing was changed",
    503: "A backing service is down; nothing was written",
}


def _schema_name(schema: type[Schema] | Schema) -> str:
    cls = schema if isinstance(schema, type) else type(schema)
    name = cls.__name__
    return name[:-6] if name.endswith("Schema") and len(name) > 6 else name


def build_openapi(app: web.Application, server_url: str) -> dict[str, Any]:
    spec = APISpec(
        title="bayaffairs",
        version=bayaffairs.__version__,
        openapi_version="3.0.3",
        info={
            "description": "Greater Bay Area cross-border services: transit ride codes, cross-border "
            "travel bookings and government counter appointments. Errors always have the shape "
            '{"error": {"code", "message", "details", "request_id"}}; money is integer minor units plus '
            "ISO currency; "
            "times are RFC 3339 with offset; Accept-Language picks en, zh-Hant or zh-Hans."
        },
        servers=[{"url": "/", "description": "this server"}, {"url": server_url}],
        plugins=[MarshmallowPlugin(schema_name_resolver=_schema_name)],
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Error", schema=ErrorSchema)
    paths: dict[str, dict[str, Any]] = {}
    for route in app.router.routes():
        spec_ = spec_of(route.handler)
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if spec_ is None or not path or route.method == "HEAD":
            continue
        path = _PARAM.sub(r"{\1}", path)
        patterns = _group_patterns(info["pattern"].pattern) if "pattern" in info else {}
        paths.setdefault(path, {})[route.method.lower()] = _operation(spec_, path, patterns)
    for path, operations in sorted(paths.items()):
        spec.path(path=path, operations=operations)
    return spec.to_dict()


_DEFAULT_GROUP = "[^{}/]+"  # aiohttp's pattern of a path parameter that names none


def _group_patterns(regex: str) -> dict[str, str]:
    """The pattern of each named group of a route's regex (`{ticket_id:tkt_[0-9a-f]{20}}`), those
    the route declares: the document states them, so a client knows which ids can match at all."""
    found: dict[str, str] = {}
    for match in re.finditer(r"\(\?P<(\w+)>", regex):
        depth, i = 1, match.end()
        while depth and i < len(regex):
            if regex[i] == "\\":
                i += 1
            elif regex[i] == "(":
                depth += 1
            elif regex[i] == ")":
                depth -= 1
            i += 1
        group = regex[match.end() : i - 1]
        if group != _DEFAULT_GROUP:
            found[match.group(1)] = group
    return found


def _path_parameter(name: str, pattern: str | None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if pattern is not None:
        schema["pattern"] = f"^(?:{pattern})$"
    return {"in": "path", "name": name, "required": True, "schema": schema}


def _operation(spec: Spec, path: str, patterns: dict[str, str]) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": spec.summary, "tags": list(spec.tags) or ["other"]}
    if spec.description:
        op["description"] = spec.description
    parameters: list[dict[str, Any]] = [
        _path_parameter(name, patterns.get(name)) for name in _PARAM.findall(path)
    ]
    if spec.query:
        parameters.append({"in": "query", "schema": spec.query})
    if spec.idempotent:
        parameters.append(
            {
                "in": "header",
                "name": "Idempotency-Key",
                "required": False,
                # What idempotency.check_key takes; anything else is a 400.
                "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
                "description": "Same key and body: the first answer again. Different body: 422. Kept 24 h."
                " 1 to 255 visible ASCII characters, else 400.",
            }
        )
    parameters.append(
        {"in": "header", "name": "Accept-Language", "required": False, "schema": {"type": "string"}}
    )
    op["parameters"] = parameters
    if spec.body:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": spec.body}}}
    responses: dict[str, Any] = {}
    for status, schema in spec.responses.items():
        entry: dict[str, Any] = {"description": "OK" if status < 300 else ""}
        if isinstance(schema, tuple):
            entry["content"] = {spec.produces: {"schema": {"oneOf": list(schema)}}}
        elif schema is not None:
            entry["content"] = {spec.produces: {"schema": schema}}
        responses[str(status)] = entry
    error_statuses = set(spec.errors) | {429, 503}
    if spec.body or spec.query or _PARAM.search(path):
        error_statuses.add(400)  # a path parameter with a NUL character too
    if spec.body:
        error_statuses.add(413)
    if spec.auth:
        error_statuses |= {401, 403}
        op["security"] = [{"bearer": []}]
        op["description"] = (
            op.get("description", "") + f"\n\nCredentials: {', '.join(spec.auth.kinds)}."
        ).strip()
    if spec.idempotent:
        error_statuses |= {400, 409, 422}
    for status in sorted(error_statuses):
        responses[str(status)] = {
            "description": _ERROR_TEXT.get(status, "Error"),
            "content": {"application/json": {"schema": "Error"}},
        }
    op["responses"] = responses
    return op
