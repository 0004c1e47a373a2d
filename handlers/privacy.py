"""The rider's personal data: who read their document numbers in clear."""

from __future__ import annotations

from aiohttp import web

from bayaffairs.handlers.endpoint import RIDER, Call, dump, endpoint
from bayaffairs.handlers.jsonresp import json_response
from bayaffairs.handlers.schemas.common import PageQuery
from bayaffairs.handlers.schemas.privacy import AccessRecordPage

routes = web.RouteTableDef()


@routes.get("/v1/me/access-log")
@endpoint(
    summary="Reads of the rider's document numbers in clear",
    tags=("profile",),
    auth=RIDER,
    query=PageQuery,
    responses={200: AccessRecordPage},
    description="Every time a number was decrypted: by a carrier (sending a passenger list, an "
    "identity check at boarding), a counter, or the rider's own export; newest first.",
)
async def list_access_log(call: Call) -> web.Response:
    page = await call.services.privacy.access_log.list(
        call.rider, cursor=call.query["cursor"], limit=call.query["limit"]
    )
    return json_response(dump(AccessRecordPage, page))
