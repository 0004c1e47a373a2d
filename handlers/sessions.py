"""Signing in (rider sessions through identity providers), whoami and signing out."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bayaffairs.credentials import KINDS
from bayaffairs.handlers.endpoint import Auth, Call, dump, endpoint
from bayaffairs.handlers.headers import NO_STORE
from bayaffairs.handlers.jsonresp import json_response
from bayaffairs.handlers.schemas.profile import PrincipalOut, ProvidersOut, SessionIn, SessionOut

routes = web.RouteTableDef()
ANY_CREDENTIAL = Auth(KINDS)


@routes.post("/v1/auth/sessions")
@endpoint(
    summary="Sign in with an identity provider",
    tags=("auth",),
    body=SessionIn,
    responses={201: SessionOut},
    rate_class="auth",
    errors=(400, 401, 502),
    description="Providers are adapters: wechat, alipay, iamsmart, macao_one_account, and dev where "
    "config enables it (its code is a handle; the same handle is the same user).",
)
async def create_session(call: Call) -> web.Response:
    body = call.body
    claims: dict[str, Any] = {k: body[k] for k in ("category", "display_name") if k in body}
    session = await call.services.users.sign_in(body["provider"], body["code"], claims)
    issued = session.credential
    return json_response(
        dump(
            SessionOut,
            {"token": issued.token, "expires_at": issued.credential.expires_at, "user": session.user},
        ),
        status=201,
        headers=NO_STORE,
    )


@routes.get("/v1/auth/providers")
@endpoint(
    summary="The sign-in and payment providers this deployment enables",
    tags=("auth",),
    responses={200: ProvidersOut},
    description="Names follow Accept-Language. A client's sign-in screen offers `identity`, its wallet "
    "screen `payment` (with the currencies each accepts).",
)
async def list_providers(call: Call) -> web.Response:
    return json_response(dump(ProvidersOut, call.services.directory.providers(call.language)))


@routes.get("/v1/auth/whoami")
@endpoint(
    summary="The credential making this call",
    tags=("auth",),
    auth=ANY_CREDENTIAL,
    responses={200: PrincipalOut},
)
async def whoami(call: Call) -> web.Response:
    return json_response(dump(PrincipalOut, call.principal))


@routes.delete("/v1/auth/sessions/current")
@endpoint(
    summary="Sign out: revoke this rider session",
    tags=("auth",),
    auth=Auth(("rider",)),
    responses={204: None},
)
async def sign_out(call: Call) -> web.Response:
    assert call.principal is not None
    await call.services.credentials.revoke(call.principal.credential_id)
    return web.Response(status=204)
