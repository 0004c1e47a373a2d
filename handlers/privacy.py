"""The rider's personal data: who read their document numbers in clear, and exports."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bayaffairs.handlers.endpoint import RIDER, Call, dump, endpoint
from bayaffairs.handlers.jsonresp import json_response
from bayaffairs.handlers.schemas.common import PageQuery
from bayaffairs.handlers.schemas.privacy import AccessRecordPage, ExportJobOut, ExportQuery
from bayaffairs.privacy.export import ExportFile, ExportJob

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


@routes.get("/v1/me/export")
@endpoint(
    summary="Everything held about the rider, as one JSON document or a ZIP",
    tags=("profile",),
    auth=RIDER,
    query=ExportQuery,
    responses={200: None, 202: ExportJobOut},
    rate_class="write",
    errors=(401,),
    description="Profile, the fare category's history (`category_history`: each category and "
    "since when), sign-in identities, sessions, documents (numbers masked, or in clear with "
    "`document_numbers=clear` after re-authentication: each number read is in the access log), "
    "consents, data transfers, the access log, ride accounts, journeys, debts, bookings and "
    "appointments. `format=zip` adds the QR images of valid tickets and active appointments and "
    "every appointment's .ics. A large export answers 202 with a job to poll "
    "(`GET /v1/me/exports/{id}`) and download when ready.",
)
async def export(call: Call) -> web.StreamResponse:
    assert call.principal is not None
    result = await call.services.privacy.exports.export(
        call.principal, call.query["format"], call.query["document_numbers"], call.language
    )
    if isinstance(result, ExportJob):
        return json_response(_job(result), status=202, headers={"Location": f"/v1/me/exports/{result.id}"})
    return _file(result)


@routes.get("/v1/me/exports/{export_id}")
@endpoint(
    summary="A background export's progress",
    tags=("profile",),
    auth=RIDER,
    responses={200: ExportJobOut},
    errors=(404,),
)
async def export_status(call: Call) -> web.Response:
    job = await call.services.privacy.exports.status(call.rider, call.path("export_id"))
    return json_response(_job(job))


@routes.get("/v1/me/exports/{export_id}/file")
@endpoint(
    summary="Download a background export once ready",
    tags=("profile",),
    auth=RIDER,
    responses={200: None},
    errors=(401, 404, 410),
    description="Only with the rider's own token; an export with numbers in clear needs a sign-in "
    "from the last few minutes again. 410 once expired.",
)
async def export_file(call: Call) -> web.StreamResponse:
    assert call.principal is not None
    return _file(await call.services.privacy.exports.download(call.principal, call.path("export_id")))


def _job(job: ExportJob) -> dict[str, Any]:
    return dump(
        ExportJobOut,
        {
            **job.__dict__,
            "document_numbers": job.document_numbers,
            "progress": {"done": job.done, "total": job.total, "percent": job.percent},
            "download_url": f"/v1/me/exports/{job.id}/file" if job.status == "ready" else None,
        },
    )


def _file(file: ExportFile) -> web.Response:
    return web.Response(
        body=file.content,
        content_type=file.content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{file.filename}"',
            "Cache-Control": "no-store",
        },
    )
