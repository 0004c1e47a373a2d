"""Consents to send the rider's personal data to another jurisdiction, and records of what was sent."""

from __future__ import annotations

from aiohttp import web

from bayaffairs.handlers.endpoint import RIDER, Call, dump, endpoint
from bayaffairs.handlers.jsonresp import json_response
from bayaffairs.handlers.schemas.common import PageQuery
from bayaffairs.handlers.schemas.profile import ConsentIn, ConsentOut, ConsentPage, DataTransferPage

routes = web.RouteTableDef()


@routes.post("/v1/me/consents")
@endpoint(
    summary="Give consent for a destination and purpose",
    tags=("profile",),
    auth=RIDER,
    body=ConsentIn,
    responses={201: ConsentOut, 200: ConsentOut},
    idempotent=True,
    description="201 when given now; 200 with the consent already active for that destination and purpose.",
)
async def give_consent(call: Call) -> web.Response:
    consent, created = await call.services.consents.give(
        call.rider, call.body["destination"], call.body["purpose"]
    )
    return json_response(dump(ConsentOut, consent), status=201 if created else 200)


@routes.get("/v1/me/consents")
@endpoint(
    summary="The rider's consents, active and withdrawn",
    tags=("profile",),
    auth=RIDER,
    query=PageQuery,
    responses={200: ConsentPage},
)
async def list_consents(call: Call) -> web.Response:
    page = await call.services.consents.list(
        call.rider, cursor=call.query["cursor"], limit=call.query["limit"]
    )
    return json_response(dump(ConsentPage, page))


@routes.delete("/v1/me/consents/{consent_id}")
@endpoint(
    summary="Withdraw a consent", tags=("profile",), auth=RIDER, responses={200: ConsentOut}, errors=(404,)
)
async def withdraw_consent(call: Call) -> web.Response:
    consent = await call.services.consents.withdraw(call.rider, call.path("consent_id"))
    return json_response(dump(ConsentOut, consent))


@routes.get("/v1/me/data-transfers")
@endpoint(
    summary="Personal data sent to another jurisdiction",
    tags=("profile",),
    auth=RIDER,
    query=PageQuery,
    responses={200: DataTransferPage},
    description="What fields went to which carrier or agency, on what legal basis and when; newest first.",
)
async def list_data_transfers(call: Call) -> web.Response:
    page = await call.services.transfers.list(
        call.rider, cursor=call.query["cursor"], limit=call.query["limit"]
    )
    return json_response(dump(DataTransferPage, page))
