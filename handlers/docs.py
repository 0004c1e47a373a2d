"""/openapi.json and /docs: API documentation served from local files, no internet needed."""

from __future__ import annotations

from pathlib import Path

import orjson
import swagger_ui_bundle
from aiohttp import web

from bayaffairs.handlers.keys import CONFIG, OPENAPI
from bayaffairs.handlers.openapi import build_openapi

routes = web.RouteTableDef()
_PAGE = Path(__file__).parent / "static" / "docs.html"


def setup_static(app: web.Application) -> None:
    app.router.add_static("/docs/assets/", Path(swagger_ui_bundle.swagger_ui_path), name="docs-assets")


@routes.get("/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    app = request.app
    if OPENAPI not in app:
        document = build_openapi(app, app[CONFIG].settings.server.public_base_url)
        app[OPENAPI] = orjson.dumps(document)
    return web.Response(body=app[OPENAPI], content_type="application/json")


@routes.get("/docs")
async def docs(request: web.Request) -> web.Response:
    return web.Response(body=_PAGE.read_bytes(), content_type="text/html", charset="utf-8")
