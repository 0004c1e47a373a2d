"""The signed-in rider: profile and wallet, and deleting the account."""

from __future__ import annotations

from aiohttp import web

from bayaffairs.handlers.endpoint import RIDER, Call, dump, endpoint
from bayaffairs.handlers.jsonresp import json_response
from bayaffairs.handlers.schemas.privacy import DeletedOut, DeletionIn, DeletionPlanOut
from bayaffairs.handlers.schemas.profile import UserSchema, WalletSchema

routes = web.RouteTableDef()


@routes.get("/v1/me")
@endpoint(summary="The rider's profile", tags=("profile",), auth=RIDER, responses={200: UserSchema})
async def get_me(call: Call) -> web.Response:
    return json_response(dump(UserSchema, await call.services.users.get(call.rider)))


@routes.put("/v1/me/wallet")
@endpoint(
    summary="Choose the currency the rider pays in and the payment provider that charges it",
    tags=("profile",),
    auth=RIDER,
    body=WalletSchema,
    responses={200: UserSchema},
)
async def put_wallet(call: Call) -> web.Response:
    user = await call.services.users.set_wallet(call.rider, call.body["currency"], call.body["provider"])
    return json_response(dump(UserSchema, user))


@routes.post("/v1/me/deletion")
@endpoint(
    summary="Ask to delete the account: what would happen, and a confirmation code",
    tags=("profile",),
    auth=RIDER,
    responses={201: DeletionPlanOut},
    idempotent=True,
    errors=(401, 409),
    description="Needs a sign-in from the last few minutes (401 reauthentication_required). "
    "Unpaid debts are 409 debts_unpaid (each debt and where to pay it); a fare still being "
    "charged, an open journey or a booking being paid for are 409 too. The code is good for "
    "`[privacy] deletion_confirm_minutes`, for this session only.",
)
async def prepare_deletion(call: Call) -> web.Response:
    assert call.principal is not None
    prepared = await call.services.privacy.deletion.prepare(call.principal)
    body = {**prepared.__dict__, **prepared.summary.__dict__}
    return json_response(dump(DeletionPlanOut, body), status=201)


@routes.delete("/v1/me")
@endpoint(
    summary="Delete the account (after POST /v1/me/deletion)",
    tags=("profile",),
    auth=RIDER,
    body=DeletionIn,
    responses={200: DeletedOut, 202: DeletedOut},
    errors=(401, 409),
    description="From the session that asked, signed in within the last few minutes, with its "
    "confirmation code. At once: every session and ride credential revoked (deny-list entries for "
    "gates), documents destroyed; then future bookings and appointments cancelled with refunds by "
    "the carriers' rules. Payments, journeys, transfer records and their consents are kept under "
    "the pseudonym `reference`, without names. 202 `deleting` while a carrier is retried.",
)
async def delete_me(call: Call) -> web.Response:
    assert call.principal is not None
    deleted = await call.services.privacy.deletion.delete(call.principal, call.body["confirmation"])
    status = 200 if deleted.status == "deleted" else 202
    return json_response(dump(DeletedOut, deleted), status=status)
