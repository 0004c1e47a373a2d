"""GET /v1/regions: jurisdictions and cities with their transit operators."""

from __future__ import annotations

import hashlib

import orjson
from aiohttp import web

from bayaffairs.handlers.endpoint import Call, endpoint
from bayaffairs.handlers.schemas.regions import RegionsSchema

routes = web.RouteTableDef()


@routes.get("/v1/regions")
@endpoint(
    summary="Jurisdictions, cities and transit operators",
    tags=("directory",),
    responses={200: RegionsSchema},
    description="Names follow Accept-Language. Cacheable: answers carry an ETag.",
)
async def list_regions(call: Call) -> web.Response:
    body = orjson.dumps({"items": call.services.directory.regions(call.language)})
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": "public, max-age=300", "Vary": "Accept-Language"}
    if etag in call.request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, content_type="application/json", headers=headers)
