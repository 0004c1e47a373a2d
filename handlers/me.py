"""The signed-in rider: profile and wallet."""

from __future__ import annotations

from aiohttp import web

from bayaffairs.handlers.endpoint import RIDER, Call, dump, endpoint
from bayaffairs.handlers.jsonresp import json_response
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
