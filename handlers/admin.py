"""Admin endpoints: credentials (the same operations as `bayaffairs credentials`), the travel
refunds outbox and the audit log."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from bayaffairs.handlers.endpoint import ADMIN, Call, dump, endpoint
from bayaffairs.handlers.jsonresp import json_response
from bayaffairs.handlers.schemas.admin import (
    AuditPage,
    AuditQuery,
    CredentialIn,
    CredentialList,
    CredentialOut,
    CredentialQuery,
    IssuedOut,
)
from bayaffairs.handlers.schemas.travel import RefundPage, RefundQuery

routes = web.RouteTableDef()


@routes.post("/v1/admin/credentials")
@endpoint(
    summary="Issue a device, staff or admin credential",
    tags=("admin",),
    auth=ADMIN,
    body=CredentialIn,
    responses={201: IssuedOut},
    rate_class="admin",
)
async def issue_credential(call: Call) -> web.Response:
    """Not idempotent on purpose: the answer holds the token, which is never stored anywhere."""
    body = call.body
    ttl = timedelta(days=body["ttl_days"]) if "ttl_days" in body else None
    issued = await call.services.credentials.issue(
        body["kind"],
        body["scope"],
        label=body.get("label"),
        ttl=ttl,
        gate_id=body.get("gate_id"),
        stations=body.get("stations"),
    )
    call.audit_target(issued.credential.id)
    out = dump(
        IssuedOut,
        {
            **issued.credential.__dict__,
            "token": issued.token,
            "operator_wide": issued.credential.operator_wide,
        },
    )
    return json_response(out, status=201)


@routes.get("/v1/admin/credentials")
@endpoint(
    summary="List credentials (never their tokens)",
    tags=("admin",),
    auth=ADMIN,
    query=CredentialQuery,
    responses={200: CredentialList},
    rate_class="admin",
)
async def list_credentials(call: Call) -> web.Response:
    items = await call.services.credentials.list(
        kind=call.query.get("kind"), include_inactive=call.query["include_inactive"]
    )
    return json_response(dump(CredentialList, {"items": items, "next_cursor": None}))


@routes.delete("/v1/admin/credentials/{credential_id}")
@endpoint(
    summary="Revoke a credential",
    tags=("admin",),
    auth=ADMIN,
    responses={200: CredentialOut},
    rate_class="admin",
    errors=(404,),
)
async def revoke_credential(call: Call) -> web.Response:
    credential = await call.services.credentials.revoke(call.path("credential_id"))
    return json_response(dump(CredentialOut, credential))


@routes.get("/v1/admin/refunds")
@endpoint(
    summary="Travel refunds owed, by status (stuck: the ones a person must look at)",
    tags=("admin", "travel"),
    auth=ADMIN,
    query=RefundQuery,
    responses={200: RefundPage},
    rate_class="admin",
    description="Every refund owed goes through an outbox (the carrier's cancellation first when "
    "needed, then the payment provider, retried with backoff). `stuck`: refused, or still failing "
    "after refund_retry_attempts; the log names the booking. Oldest first.",
)
async def list_refunds(call: Call) -> web.Response:
    q = call.query
    page = await call.services.travel.payments.refunds.listing(
        q["status"], cursor=q["cursor"], limit=q["limit"]
    )
    return json_response(dump(RefundPage, {"items": page.items, "next_cursor": page.next_cursor}))


@routes.get("/v1/admin/audit")
@endpoint(
    summary="The audit log: what admins and counters changed, oldest first",
    tags=("admin",),
    auth=ADMIN,
    query=AuditQuery,
    responses={200: AuditPage},
    rate_class="admin",
    description="Every change (not a read) an admin or counter credential made through the API, "
    "refusals included: who (the credential), what (method and route), target, when, request id and "
    "status. Append-only: the database refuses to change or delete an entry.",
)
async def audit_log(call: Call) -> web.Response:
    q = call.query
    page = await call.services.audit.since(q["since"], cursor=q["cursor"], limit=q["limit"])
    return json_response(dump(AuditPage, {"items": page.items, "next_cursor": page.next_cursor}))
