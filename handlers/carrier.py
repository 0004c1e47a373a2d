"""What carriers' devices call: boarding scans."""

from __future__ import annotations

from aiohttp import web

from bayaffairs.handlers.endpoint import Auth, Call, dump, endpoint
from bayaffairs.handlers.jsonresp import json_response
from bayaffairs.handlers.schemas.travel import BoardingIn, BoardingOut

routes = web.RouteTableDef()
CARRIER = Auth(("carrier", "admin"))


@routes.post("/v1/carrier/boardings")
@endpoint(
    summary="Scan a ticket at boarding: board once, or deny with a reason",
    tags=("carrier",),
    auth=CARRIER,
    body=BoardingIn,
    responses={200: BoardingOut},
    rate_class="scan",
    errors=(403, 404),
    description="403 out_of_scope for another carrier's departure. Deny reasons: already_boarded, "
    "wrong_departure, cancelled, boarding_not_open, departed, bad_signature, malformed, unknown_key, "
    "revoked, unknown_ticket. Boarding opens the carrier's boarding_opens_minutes before departure "
    "and closes at departure.",
)
async def board(call: Call) -> web.Response:
    assert call.principal is not None
    carrier = None if call.principal.kind == "admin" else call.principal.scope
    decision = await call.services.travel.boarding.scan(
        carrier, call.body["payload"], call.body["departure_id"]
    )
    return json_response(dump(BoardingOut, decision.__dict__))
