"""GET /v1/regions: jurisdictions and cities with their transit operators."""

from __future__ import annotations

import orjson
from aiohttp import web

from bayaffairs.handlers.endpoint import Call, endpoint
from bayaffairs.handlers.etag import etagged
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
    return etagged(call.request, body, {"Cache-Control": "public, max-age=300", "Vary": "Accept-Language"})
