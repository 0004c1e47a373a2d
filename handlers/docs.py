"""/openapi.json and /docs: API documentation served from local files, no internet needed."""

from __future__ import annotations

from pathlib import Path

import orjson
import swagger_ui_bundle
from aiohttp import web

from bayaffairs.errors import NotFound
from bayaffairs.handlers.endpoint import documented
from bayaffairs.handlers.keys import CONFIG, OPENAPI
from bayaffairs.handlers.openapi import build_openapi
from bayaffairs.memo import ProcessMemo

routes = web.RouteTableDef()
_STATIC = Path(__file__).parent / "static"
_PAGE = _STATIC / "docs.html"
_SWAGGER = Path(swagger_ui_bundle.swagger_ui_path)
# The files docs.html loads (Swagger UI's, then the page's own start-up); anything else under
# /docs/assets/ is a 404 in the error shape (aiohttp's static route answered an empty 404 that
# the access log and metrics saw as 200).
_ASSETS = {
    **{
        name: _SWAGGER / name
        for name in ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js")
    },
    "docs.js": _STATIC / "docs.js",
    "docs.css": _STATIC / "docs.css",
}
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
# The page and Swagger UI load only this origin's files and the OpenAPI document; nothing inline
# runs (the start-up is docs.js). Swagger UI's icons are data: images in its stylesheet.
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def setup(app: web.Application) -> None:
    app.on_startup.append(_build)


async def _build(app: web.Application) -> None:
    """Generated once, when the routes are final."""
    app[OPENAPI] = document(app, app[CONFIG].settings.server.public_base_url)


def document(app: web.Application, server_url: str) -> bytes:
    """The app's OpenAPI document. Generating it walks every route's schemas (~0.3 s): a process
    that starts several apps with the same routes and server URL (the tests, one app or more a
    test) generates it once. The key is each route's method, path pattern and handler; an entry
    holds its handlers, so a handler id in a key is still that handler's."""
    routes = [
        (r.method, repr(r.resource.get_info()) if r.resource else "", r.handler) for r in app.router.routes()
    ]
    key = (server_url, tuple((method, path, id(handler)) for method, path, handler in routes))
    handlers = tuple(handler for _, _, handler in routes)
    return _DOCUMENTS.get(key, lambda: (handlers, orjson.dumps(build_openapi(app, server_url))))[1]


_DOCUMENTS: ProcessMemo[tuple[str, tuple[tuple[str, str, int], ...]], tuple[tuple[object, ...], bytes]] = (
    ProcessMemo(16)
)


@routes.get("/openapi.json")
@documented("This OpenAPI document")
async def openapi(request: web.Request) -> web.Response:
    return web.Response(body=request.app[OPENAPI], content_type="application/json")


@routes.get("/docs/assets/{name}")
async def docs_asset(request: web.Request) -> web.StreamResponse:
    path = _ASSETS.get(request.match_info["name"])
    if path is None:
        raise NotFound()
    headers = {"Cache-Control": "public, max-age=86400", "Content-Type": _TYPES[path.suffix]}
    return web.FileResponse(path, headers=headers)


@routes.get("/docs")
@documented("The API documentation page (no internet needed)", produces="text/html")
async def docs(request: web.Request) -> web.Response:
    return web.Response(
        body=_PAGE.read_bytes(),
        content_type="text/html",
        charset="utf-8",
        headers={"Content-Security-Policy": _CSP, "Referrer-Policy": "no-referrer"},
    )
