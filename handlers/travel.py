"""Cross-border travel for riders: routes, departures, bookings, payment, cancellation, tickets."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from aiohttp import web

from bayaffairs.handlers.endpoint import RIDER, Call, authenticate_token, dump, endpoint
from bayaffairs.handlers.etag import etagged
from bayaffairs.handlers.jsonresp import json_response
from bayaffairs.handlers.schemas.common import PageQuery
from bayaffairs.handlers.schemas.travel import (
    BookingIn,
    BookingOut,
    BookingPage,
    DeparturePage,
    DeparturesQuery,
    MoveIn,
    RouteList,
    RoutesQuery,
)
from bayaffairs.i18n import localise
from bayaffairs.travel.bookings import Booking
from bayaffairs.travel.passengers import PassengerRequest, onward
from bayaffairs.travel.search import DepartureView, Listing

routes = web.RouteTableDef()
log = logging.getLogger("bayaffairs.travel")


def _booking(booking: Booking, language: str) -> dict[str, Any]:
    body = localise(booking, language)
    body["tickets"] = [{**t, "png_url": f"/v1/travel/tickets/{t['id']}.png"} for t in body["tickets"]]
    return dump(BookingOut, body)


@routes.get("/v1/travel/routes")
@endpoint(
    summary="Cross-border routes: ports and stations per mode and carrier",
    tags=("travel",),
    query=RoutesQuery,
    responses={200: RouteList},
)
async def list_routes(call: Call) -> web.Response:
    items = [localise(r, call.language) for r in call.services.travel.search.routes(call.query["mode"])]
    return json_response(dump(RouteList, {"items": items}))


@routes.get("/v1/travel/departures")
@endpoint(
    summary="Departures with fares per class and seats remaining",
    tags=("travel",),
    query=DeparturesQuery,
    responses={200: DeparturePage},
    description="Fares are in the carrier's currency; with a rider's token, also in the wallet's "
    "currency (wallet_fare). Without a date: the next 24 hours.",
)
async def list_departures(call: Call) -> web.Response:
    wallet_currency = await _wallet_currency(call)
    q = call.query
    page = await call.services.travel.search.departures(
        origin=q["origin"],
        destination=q["destination"],
        day=q["date"],
        mode=q["mode"],
        wallet_currency=wallet_currency,
        cursor=q["cursor"],
        limit=q["limit"],
    )
    items = b",".join(_listing(item, call.language) for item in page.items)
    body = b'{"items":[' + items + b'],"next_cursor":' + orjson.dumps(page.next_cursor) + b"}"
    return etagged(
        call.request, body, {"Cache-Control": "no-cache", "Vary": "Accept-Language, Authorization"}
    )


_SEATS = -918_273_645  # a placeholder no seat count can be, cut out of the rendered JSON
# Where the JSON is cut: the key and the placeholder. A string value cannot hold these bytes (its
# quotes are escaped), so a name or id that happens to contain the number cuts nothing.
_CUT = b'"seats_remaining":' + str(_SEATS).encode()
_rendered: dict[tuple[int, str], tuple[DepartureView, list[bytes]]] = {}


def _listing(item: Listing, language: str) -> bytes:
    """One departure's JSON with its seats: the rest is rendered once per departure view and
    language (search returns the same view object each time) and the seats spliced in."""
    view = item.departure
    cached = _rendered.get((id(view), language))
    if cached is None or cached[0] is not view:
        if len(_rendered) > 20_000:
            _rendered.clear()
        cached = _rendered[id(view), language] = (
            view,
            orjson.dumps(_departure(view, language)).split(_CUT),
        )
    parts = cached[1]
    out = [parts[0]]
    for seats, part in zip(item.seats_remaining, parts[1:], strict=True):
        out.append(b'"seats_remaining":%d' % seats)
        out.append(part)
    return b"".join(out)


def _departure(d: DepartureView, language: str) -> dict[str, Any]:
    """DepartureSchema's shape, built by hand (the schema's dump cost fifty times as much for a
    page of 20; tests/travel/test_departure_body.py holds the two equal); seats_remaining is the
    placeholder `_SEATS`, filled in per request by `_listing`."""
    return {
        "id": d.id,
        "carrier": d.carrier,
        "carrier_name": d.carrier_name.get(language),
        "mode": d.mode,
        "route": d.route,
        "origin": d.origin,
        "destination": d.destination,
        "departs_at": d.departs_at.isoformat(),
        "arrives_at": d.arrives_at.isoformat(),
        "fares": [
            {
                "fare_class": f.fare_class,
                "name": f.name.get(language),
                "fare": f.fare.as_dict(),
                "wallet_fare": f.wallet_fare.as_dict() if f.wallet_fare else None,
                "seats_remaining": _SEATS,
            }
            for f in d.fares
        ],
    }


async def _wallet_currency(call: Call) -> str | None:
    """The signed-in rider's wallet currency; search works without signing in."""
    scheme, _, token = call.request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    principal = await authenticate_token(call.request, token.strip())
    if principal.kind != "rider":
        return None
    user = await call.services.users.get(principal.scope)
    return user.wallet.currency if user.wallet else None


@routes.post("/v1/travel/bookings")
@endpoint(
    summary="Hold seats on a departure for the rider's passengers",
    tags=("travel",),
    auth=RIDER,
    body=BookingIn,
    responses={201: BookingOut},
    idempotent=True,
    errors=(400, 403, 404, 409, 502, 504),
    description="201 status held with expires_at. 400 document_not_accepted (details: passenger, "
    "document_id, reason), too_many_passengers, departure_departed; 403 consent_required; 404 "
    "departure_not_found; 409 sold_out, sales_closed (inside the carrier's cutoff), "
    "passenger_already_booked (a document holds one seat per departure; details: passenger), "
    "too_many_holds (max_active_holds unpaid bookings); 502/504 when the carrier fails (seats "
    "released; retry with the same Idempotency-Key).",
)
async def hold(call: Call) -> web.Response:
    b = call.body
    booking = await call.services.travel.bookings.hold(
        call.rider,
        b["departure_id"],
        b["fare_class"],
        [
            PassengerRequest(p["document_id"], onward(**p["onward_flight"]) if "onward_flight" in p else None)
            for p in b["passengers"]
        ],
        request_key=call.request.headers.get("Idempotency-Key"),
    )
    return json_response(_booking(booking, call.language), status=201)


@routes.get("/v1/travel/bookings")
@endpoint(
    summary="The rider's bookings, newest first",
    tags=("travel",),
    auth=RIDER,
    query=PageQuery,
    responses={200: BookingPage},
)
async def list_bookings(call: Call) -> web.Response:
    page = await call.services.travel.bookings.list(
        call.rider, cursor=call.query["cursor"], limit=call.query["limit"]
    )
    return json_response(
        {"items": [_booking(b, call.language) for b in page.items], "next_cursor": page.next_cursor}
    )


@routes.get("/v1/travel/bookings/{booking_id}")
@endpoint(
    summary="One of the rider's bookings",
    tags=("travel",),
    auth=RIDER,
    responses={200: BookingOut},
    errors=(404,),
)
async def get_booking(call: Call) -> web.Response:
    booking = await call.services.travel.bookings.get(call.rider, call.path("booking_id"))
    return json_response(_booking(booking, call.language))


@routes.post("/v1/travel/bookings/{booking_id}/payment")
@endpoint(
    summary="Pay for a held booking: charge the wallet, confirm at the carrier, issue tickets",
    tags=("travel",),
    auth=RIDER,
    responses={200: BookingOut},
    idempotent=True,
    errors=(403, 404, 409, 410, 502, 504),
    description="200 status confirmed with one ticket per passenger. 410 hold_expired (nothing "
    "charged); 409 payment_declined, payment_in_progress or carrier_refused (the charge is "
    "refunded); 504 confirmation_pending when the carrier failed or did not answer after the "
    "charge: the booking stays paying, retry with the same Idempotency-Key (or the sweeper "
    "finishes it); 502 when the payment provider fails (nothing charged).",
)
async def pay(call: Call) -> web.Response:
    booking = await call.services.travel.payments.pay(call.rider, call.path("booking_id"))
    return json_response(_booking(booking, call.language))


@routes.post("/v1/travel/bookings/{booking_id}/cancellation")
@endpoint(
    summary="Cancel a booking; refund by the carrier's tiers, seats back on sale",
    tags=("travel",),
    auth=RIDER,
    responses={200: BookingOut},
    idempotent=True,
    errors=(404, 409, 502, 504),
    description="refund is in the currency charged, through the same provider.",
)
async def cancel(call: Call) -> web.Response:
    booking = await call.services.travel.cancellations.cancel(call.rider, call.path("booking_id"))
    body = _booking(booking, call.language)
    if body["refund"] is None and body["charge"] is not None:
        body["refund"] = {"amount": 0, "currency": body["charge"]["currency"]}
    return json_response(body)


@routes.post("/v1/travel/bookings/{booking_id}/passengers/{passenger_id}/cancellation")
@endpoint(
    summary="Cancel one passenger of a paid booking; their part refunded by the carrier's tiers",
    tags=("travel",),
    auth=RIDER,
    responses={200: BookingOut},
    idempotent=True,
    errors=(404, 409),
    description="The passenger's ticket is voided and their seat goes back on sale; the others "
    "travel. The refund is the tier's share of what that passenger's fare stands for in the "
    "charge; the carrier is told. The last passenger cancels the booking. 409 "
    "booking_not_cancellable (boarded, departed, already cancelled), payment_in_progress; 404 "
    "passenger_not_found.",
)
async def cancel_passenger(call: Call) -> web.Response:
    booking = await call.services.travel.cancellations.cancel_passenger(
        call.rider, call.path("booking_id"), call.path("passenger_id")
    )
    return json_response(_booking(booking, call.language))


@routes.post("/v1/travel/bookings/{booking_id}/move")
@endpoint(
    summary="Move a booking whose departure was cancelled to a later departure with seats",
    tags=("travel",),
    auth=RIDER,
    body=MoveIn,
    responses={200: BookingOut},
    idempotent=True,
    errors=(404, 409),
    description="Instead of the full refund, while `disruption` shows an offer (until decide_by): "
    "at no cost, the booking confirmed on the new departure with new tickets. 409 "
    "move_not_available once the refund has started or when no departure has seats; "
    "passenger_already_booked when a passenger already holds a seat there; 400 "
    "document_not_accepted when a passenger's document does not make the crossing on the new "
    "departure's date (expiry, endorsement, onward flight), as a hold would check it.",
)
async def move(call: Call) -> web.Response:
    booking = await call.services.travel.disruptions.move(
        call.rider, call.path("booking_id"), call.body.get("departure_id")
    )
    return json_response(_booking(booking, call.language))


@routes.get(r"/v1/travel/tickets/{ticket_id:tkt_[0-9a-f]{20}}.png")
@endpoint(
    summary="The QR image of a ticket",
    tags=("travel",),
    auth=RIDER,
    responses={200: None},
    produces="image/png",
    errors=(404,),
    description="Needs the rider's token, like every ticket read (the id alone opens nothing; another "
    "rider's ticket is 404). An app that cannot send headers with an image renders `payload` itself.",
)
async def ticket_image(call: Call) -> web.Response:
    payload = await call.services.travel.bookings.ticket_payload(call.rider, call.path("ticket_id"))
    image = await call.services.transit.renderer.render("png", payload)
    return web.Response(
        body=image, content_type="image/png", headers={"Cache-Control": "private, max-age=300"}
    )
