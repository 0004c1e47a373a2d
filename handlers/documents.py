"""The rider's travel and identity documents (numbers encrypted at rest, shown masked)."""

from __future__ import annotations

from aiohttp import web

from bayaffairs.documents.service import NewDocument, endorsements_from
from bayaffairs.handlers.endpoint import RIDER, Call, dump, endpoint
from bayaffairs.handlers.jsonresp import json_response
from bayaffairs.handlers.schemas.common import PageQuery
from bayaffairs.handlers.schemas.profile import DocumentIn, DocumentOut, DocumentPage

routes = web.RouteTableDef()


@routes.post("/v1/me/documents")
@endpoint(
    summary="Add a document (the rider's own or a family member's)",
    tags=("profile",),
    auth=RIDER,
    body=DocumentIn,
    responses={201: DocumentOut},
    idempotent=True,
    errors=(400, 409),
)
async def add_document(call: Call) -> web.Response:
    body = call.body
    new = NewDocument(
        type=body["type"],
        holder_name=body["holder_name"],
        number=body["number"],
        issuing=body["issuing"],
        expires=body["expires"],
        date_of_birth=body.get("date_of_birth"),
        endorsements=endorsements_from(body["endorsements"]),
        holder=body["holder"],
    )
    document = await call.services.documents.add(call.rider, new)
    return json_response(dump(DocumentOut, document), status=201)


@routes.get("/v1/me/documents")
@endpoint(
    summary="The rider's documents",
    tags=("profile",),
    auth=RIDER,
    query=PageQuery,
    responses={200: DocumentPage},
)
async def list_documents(call: Call) -> web.Response:
    page = await call.services.documents.list(
        call.rider, cursor=call.query["cursor"], limit=call.query["limit"]
    )
    return json_response(dump(DocumentPage, page))


@routes.get("/v1/me/documents/{document_id}")
@endpoint(summary="One document", tags=("profile",), auth=RIDER, responses={200: DocumentOut}, errors=(404,))
async def get_document(call: Call) -> web.Response:
    document = await call.services.documents.get(call.rider, call.path("document_id"))
    return json_response(dump(DocumentOut, document))


@routes.delete("/v1/me/documents/{document_id}")
@endpoint(summary="Delete a document", tags=("profile",), auth=RIDER, responses={204: None}, errors=(404,))
async def delete_document(call: Call) -> web.Response:
    await call.services.documents.delete(call.rider, call.path("document_id"))
    return web.Response(status=204)
