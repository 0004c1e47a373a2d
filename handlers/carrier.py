"""What carriers' staff and devices call: boarding scans, the manifest, cancelling a departure."""

from __future__ import annotations

from aiohttp import web

from bayaffairs.handlers.endpoint import Auth, Call, dump, endpoint
from bayaffairs.handlers.jsonresp import json_response
from bayaffairs.handlers.schemas.travel import (
    BoardingIn,
    BoardingOut,
    DepartureCancellationIn,
    DepartureCancellationOut,
    ManifestOut,
    ManifestQuery,
)

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
    decision = await call.services.travel.boarding.scan(
        _carrier(call), call.body["payload"], call.body["departure_id"]
    )
    return json_response(dump(BoardingOut, decision))


def _carrier(call: Call) -> str | None:
    """The caller's carrier; None for an admin (any carrier)."""
    assert call.principal is not None
    return None if call.principal.kind == "admin" else call.principal.scope


@routes.get("/v1/carrier/departures/{departure_id}/manifest")
@endpoint(
    summary="The passengers holding a paid seat on a departure, to check faces against documents",
    tags=("carrier",),
    auth=CARRIER,
    query=ManifestQuery,
    responses={200: ManifestOut},
    errors=(403, 404),
    description="Name, document type and masked number (never the clear number), fare class, "
    "category, ticket and boarding status per passenger; paged by passenger. 403 out_of_scope for "
    "another carrier's departure.",
)
async def manifest(call: Call) -> web.Response:
    departure, page = await call.services.travel.boarding.manifest(
        _carrier(call), call.path("departure_id"), cursor=call.query["cursor"], limit=call.query["limit"]
    )
    body = {
        "departure_id": departure.id,
        "departs_at": departure.departs_at,
        "cancelled": departure.cancelled_at is not None,
        "items": page.items,
        "next_cursor": page.next_cursor,
    }
    return json_response(dump(ManifestOut, body))


@routes.post("/v1/carrier/departures/{departure_id}/cancellation")
@endpoint(
    summary="Cancel a departure: every booking on it refunded in full (or moved, if its rider accepts)",
    tags=("carrier",),
    auth=CARRIER,
    body=DepartureCancellationIn,
    responses={200: DepartureCancellationOut},
    errors=(400, 403, 404),
    description="For a typhoon signal 8 or a breakdown. Holds are released; paid bookings are "
    "cancelled and refunded in full whatever the tiers (a local carrier's riders may move to the "
    "next departure with seats within disruption_decide_minutes instead: "
    "POST /v1/travel/bookings/{id}/move); payments in flight refund when they end; each rider is "
    "told once. Idempotent: asked again, it answers the same. 403 out_of_scope for another "
    "carrier's departure.",
)
async def cancel_departure(call: Call) -> web.Response:
    assert call.principal is not None
    done = await call.services.travel.disruptions.cancel_departure(
        _carrier(call), call.path("departure_id"), call.body["reason"], call.principal.key
    )
    body = {
        "departure_id": done.departure_id,
        "status": "cancelled",
        "reason": done.reason,
        "cancelled_at": done.cancelled_at,
        "bookings": {"cancelled": done.cancelled, "released": done.released, "paying": done.paying},
    }
    return json_response(dump(DepartureCancellationOut, body))
