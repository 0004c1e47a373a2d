"""/openapi.json and /docs: API documentation served from local files, no internet needed."""

from __future__ import annotations

from pathlib import Path

import orjson
import swagger_ui_bundle
from aiohttp import web

from bayaffairs.handlers.endpoint import documented
from bayaffairs.handlers.keys import CONFIG, OPENAPI
from bayaffairs.handlers.openapi import build_openapi

routes = web.RouteTableDef()
_PAGE = Path(__file__).parent / "static" / "docs.html"


def setup(app: web.Application) -> None:
    app.router.add_static("/docs/assets/", Path(swagger_ui_bundle.swagger_ui_path), name="docs-assets")
    app.on_startup.append(_build)


async def _build(app: web.Application) -> None:
    """Generated once, when the routes are final."""
    app[OPENAPI] = orjson.dumps(build_openapi(app, app[CONFIG].settings.server.public_base_url))


@routes.get("/openapi.json")
@documented("This OpenAPI document")
async def openapi(request: web.Request) -> web.Response:
    return web.Response(body=request.app[OPENAPI], content_type="application/json")


@routes.get("/docs")
@documented("The API documentation page (no internet needed)", produces="text/html")
async def docs(request: web.Request) -> web.Response:
    return web.Response(body=_PAGE.read_bytes(), content_type="text/html", charset="utf-8")
