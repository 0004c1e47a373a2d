"""Consents to send the rider's personal data to another jurisdiction, and records of what was sent."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bayaffairs.handlers.endpoint import RIDER, Call, dump, endpoint
from bayaffairs.handlers.jsonresp import json_response
from bayaffairs.handlers.schemas.common import PageQuery
from bayaffairs.handlers.schemas.privacy import ConsentWithdrawalOut
from bayaffairs.handlers.schemas.profile import ConsentIn, ConsentOut, ConsentPage, DataTransferPage
from bayaffairs.privacy.recipients import RecipientInfo
from bayaffairs.privacy.withdrawal import notice

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
        call.rider, call.body["destination"], call.body["purpose"], call.body.get("document_id")
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
    summary="Withdraw a consent",
    tags=("profile",),
    auth=RIDER,
    responses={200: ConsentWithdrawalOut},
    errors=(404,),
    description="Nothing more is sent on it from now on. The answer lists what was already sent to "
    "that destination, per recipient, with the recipient's contact, in the caller's language.",
)
async def withdraw_consent(call: Call) -> web.Response:
    withdrawal = await call.services.consents.withdraw(call.rider, call.path("consent_id"))
    directory = call.services.privacy.recipients
    language = call.language
    already_sent = [
        {
            **sent.__dict__,
            "recipient_name": directory.name(sent.recipient, language, sent.recipient_name),
            "contact": _contact(directory.get(sent.recipient), language),
        }
        for sent in withdrawal.sent
    ]
    consent = withdrawal.consent
    body = {
        **consent.__dict__,
        "status": consent.status,
        "notice": notice(consent.destination, language),
        "already_sent": already_sent,
    }
    return json_response(dump(ConsentWithdrawalOut, body))


def _contact(info: RecipientInfo | None, language: str) -> dict[str, Any] | None:
    contact = info.contact if info else None
    if contact is None:
        return None
    address = contact.address.get(language) if contact.address else None
    return {"email": contact.email, "phone": contact.phone, "url": contact.url, "address": address}


@routes.get("/v1/me/data-transfers")
@endpoint(
    summary="Personal data sent to another jurisdiction",
    tags=("profile",),
    auth=RIDER,
    query=PageQuery,
    responses={200: DataTransferPage},
    description="What fields went to which carrier or agency, on what legal basis and when; newest first. "
    "recipient_name is in the caller's language (the name recorded when sent, for a recipient no "
    "longer configured).",
)
async def list_data_transfers(call: Call) -> web.Response:
    page = await call.services.transfers.list(
        call.rider, cursor=call.query["cursor"], limit=call.query["limit"]
    )
    directory = call.services.privacy.recipients
    items = [
        {**r.__dict__, "recipient_name": directory.name(r.recipient, call.language, r.recipient_name)}
        for r in page.items
    ]
    return json_response(dump(DataTransferPage, {"items": items, "next_cursor": page.next_cursor}))
