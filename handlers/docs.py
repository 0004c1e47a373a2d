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

routes = web.RouteTableDef()
_PAGE = Path(__file__).parent / "static" / "docs.html"
_ASSETS = Path(swagger_ui_bundle.swagger_ui_path)
# The files docs.html loads; anything else under /docs/assets/ is a 404 in the error shape
# (aiohttp's static route answered an empty 404 that the access log and metrics saw as 200).
_ASSET_NAMES = frozenset({"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js"})


def setup(app: web.Application) -> None:
    app.on_startup.append(_build)


async def _build(app: web.Application) -> None:
    """Generated once, when the routes are final."""
    app[OPENAPI] = orjson.dumps(build_openapi(app, app[CONFIG].settings.server.public_base_url))


@routes.get("/openapi.json")
@documented("This OpenAPI document")
async def openapi(request: web.Request) -> web.Response:
    return web.Response(body=request.app[OPENAPI], content_type="application/json")


@routes.get("/docs/assets/{name}")
async def docs_asset(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name not in _ASSET_NAMES:
        raise NotFound()
    return web.FileResponse(_ASSETS / name, headers={"Cache-Control": "public, max-age=86400"})


@routes.get("/docs")
@documented("The API documentation page (no internet needed)", produces="text/html")
async def docs(request: web.Request) -> web.Response:
    return web.Response(body=_PAGE.read_bytes(), content_type="text/html", charset="utf-8")
