"""Riders' ride codes (and their QR images) and device credentials for offline codes."""

from __future__ import annotations

from aiohttp import web

from bayaffairs.handlers.endpoint import RIDER, Call, dump, endpoint
from bayaffairs.handlers.jsonresp import json_response
from bayaffairs.handlers.schemas.transit import (
    RideCodeIn,
    RideCodeOut,
    RideCredentialIn,
    RideCredentialOut,
)

routes = web.RouteTableDef()


@routes.post("/v1/ride-codes")
@endpoint(
    summary="Get a short-lived ride code for a city",
    tags=("ride codes",),
    auth=RIDER,
    body=RideCodeIn,
    responses={201: RideCodeOut},
    idempotent=True,
    errors=(403, 409),
    description="403 wallet_required or account_denied; 409 unfinished_journey (with details.journey_id) "
    "while a journey elsewhere is open or one is unfinished.",
)
async def create_code(call: Call) -> web.Response:
    code = await call.services.transit.codes.issue_code(call.rider, call.body["city"], call.body["riders"])
    base = f"/v1/ride-codes/{code.code_id}"
    body = {**code.__dict__, "png_url": f"{base}.png", "svg_url": f"{base}.svg"}
    return json_response(dump(RideCodeOut, body), status=201)


@routes.get(r"/v1/ride-codes/{code_id:[0-9a-f]{16}}.{kind:png|svg}")
@endpoint(
    summary="The QR image of a ride code",
    tags=("ride codes",),
    auth=RIDER,
    responses={200: None},
    produces="image/png",
    errors=(404, 410),
)
async def code_image(call: Call) -> web.Response:
    transit = call.services.transit
    payload = await transit.codes.payload_of(call.rider, call.path("code_id"))
    kind = call.path("kind")
    image = await transit.renderer.render(kind, payload)
    content_type = "image/png" if kind == "png" else "image/svg+xml"
    return web.Response(
        body=image, content_type=content_type, headers={"Cache-Control": "private, max-age=60"}
    )


@routes.post("/v1/ride-credentials")
@endpoint(
    summary="Bind the app's device key for offline codes (valid 24 to 72 hours)",
    tags=("ride codes",),
    auth=RIDER,
    body=RideCredentialIn,
    responses={201: RideCredentialOut},
    idempotent=True,
    errors=(403, 409),
    description="The app signs each code itself: the credential bytes, then code time and counter "
    "(4 bytes each, big-endian), then its P-256 signature over all of that (raw r||s). "
    "Layout: bayaffairs/transit/codes/format.py.",
)
async def create_credential(call: Call) -> web.Response:
    transit = call.services.transit
    issued = await transit.codes.issue_credential(
        call.rider, call.body["device_public_key"], call.body.get("city")
    )
    body = {**issued.__dict__, "algorithm": "ES256", "code_seconds": transit.settings.code_seconds}
    return json_response(dump(RideCredentialOut, body), status=201)


@routes.delete(r"/v1/ride-credentials/{credential_id:[0-9a-f]{16}}")
@endpoint(
    summary="Revoke a device credential (a lost or replaced phone)",
    tags=("ride codes",),
    auth=RIDER,
    responses={204: None},
    errors=(404,),
)
async def revoke_credential(call: Call) -> web.Response:
    await call.services.transit.codes.revoke_credential(call.rider, call.path("credential_id"))
    return web.Response(status=204)
