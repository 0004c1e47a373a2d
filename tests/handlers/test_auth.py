"""Credentials: each kind reaches only its own scope; tokens expire and can be revoked."""

from __future__ import annotations

import asyncpg
import pytest
from aiohttp import web

from bayaffairs.credentials import hash_secret
from bayaffairs.handlers.endpoint import Auth, Call, endpoint
from bayaffairs.handlers.jsonresp import json_response
from bayaffairs.handlers.keys import SERVICES
from tests.conftest import AppFactory
from tests.support import FAR_AHEAD, Api, MovableClock

pytestmark = pytest.mark.at_two_instants

SCOPES = {
    "gate": {"op_a", "op_b"},
    "operator": {"op_a", "op_b"},
    "carrier": {"ca_a", "ca_b"},
    "counter": {"ce_a", "ce_b"},
}

# A route per scoped kind, as the capability endpoints declare them.
scoped = web.RouteTableDef()


@scoped.get("/test/gate/{operator}")
@endpoint(summary="gate", auth=Auth(("gate",), scope_from="operator"))
async def gate_route(call: Call) -> web.Response:
    return json_response({"scope": call.principal.scope if call.principal else None})


@scoped.get("/test/operator/{operator}")
@endpoint(summary="operator", auth=Auth(("operator", "admin"), scope_from="operator"))
async def operator_route(call: Call) -> web.Response:
    return json_response({"ok": True})


@scoped.get("/test/carrier/{carrier}")
@endpoint(summary="carrier", auth=Auth(("carrier",), scope_from="carrier"))
async def carrier_route(call: Call) -> web.Response:
    return json_response({"ok": True})


@scoped.get("/test/counter/{centre}")
@endpoint(summary="counter", auth=Auth(("counter",), scope_from="centre"))
async def counter_route(call: Call) -> web.Response:
    return json_response({"ok": True})


async def scoped_api(make_api: AppFactory) -> Api:
    return await make_api(routes=scoped, scopes=lambda kind: SCOPES.get(kind, set()))


async def issue(api: Api, kind: str, scope: str) -> str:
    services = api.client.server.app[SERVICES]
    return (await services.credentials.issue(kind, scope)).token


async def test_each_scoped_kind_reaches_its_own_scope(make_api: AppFactory) -> None:
    api = await scoped_api(make_api)
    for kind, path in (
        ("gate", "gate/op_a"),
        ("operator", "operator/op_a"),
        ("carrier", "carrier/ca_a"),
        ("counter", "counter/ce_a"),
    ):
        token = await issue(api, kind, path.split("/")[1])
        status, _ = await api.as_(token).get(f"/test/{path}")
        assert status == 200, kind


async def test_each_scoped_kind_is_denied_another_scope(make_api: AppFactory) -> None:
    api = await scoped_api(make_api)
    for kind, own, other in (
        ("gate", "op_a", "gate/op_b"),
        ("operator", "op_a", "operator/op_b"),
        ("carrier", "ca_a", "carrier/ca_b"),
        ("counter", "ce_a", "counter/ce_b"),
    ):
        token = await issue(api, kind, own)
        status, body = await api.as_(token).get(f"/test/{other}")
        assert status == 403, kind
        assert body["error"]["code"] == "out_of_scope"


async def test_each_kind_is_denied_routes_of_other_kinds(make_api: AppFactory) -> None:
    api = await scoped_api(make_api)
    rider = await api.sign_in("kind-check")
    tokens = {
        "rider": rider.token,
        "gate": await issue(api, "gate", "op_a"),
        "operator": await issue(api, "operator", "op_a"),
        "carrier": await issue(api, "carrier", "ca_a"),
        "counter": await issue(api, "counter", "ce_a"),
        "admin": await issue(api, "admin", "all"),
    }
    routes = {
        "gate": "/test/gate/op_a",
        "carrier": "/test/carrier/ca_a",
        "counter": "/test/counter/ce_a",
        "rider": "/v1/me",
        "admin": "/v1/admin/credentials",
    }
    for route_kind, path in routes.items():
        for kind, token in tokens.items():
            if kind == route_kind:
                continue
            status, body = await api.as_(token).get(path)
            assert status == 403, (kind, path)
            assert body["error"]["code"] == "wrong_credential_kind"


async def test_admin_passes_scope_checks_only_where_admins_are_allowed(make_api: AppFactory) -> None:
    api = await scoped_api(make_api)
    admin = api.as_(await issue(api, "admin", "all"))
    assert (await admin.get("/test/operator/op_b"))[0] == 200
    assert (await admin.get("/test/gate/op_b"))[0] == 403


async def test_a_rider_sees_only_their_own_documents(api: Api) -> None:
    alice = await api.sign_in("alice")
    bob = await api.sign_in("bob")
    status, doc = await alice.post(
        "/v1/me/documents",
        {
            "type": "passport",
            "holder_name": "Alice",
            "number": "X1234567",
            "issuing": "GB",
            "expires": FAR_AHEAD,
        },
    )
    assert status == 201
    assert (await bob.get(f"/v1/me/documents/{doc['id']}"))[0] == 404
    assert (await bob.delete(f"/v1/me/documents/{doc['id']}"))[0] == 404
    assert (await bob.get("/v1/me/documents"))[1]["items"] == []
    assert (await alice.get(f"/v1/me/documents/{doc['id']}"))[0] == 200


async def test_token_expires(make_api: AppFactory, clock: MovableClock) -> None:
    api = await make_api(scopes=lambda kind: SCOPES.get(kind, set()))
    token = await issue(api, "gate", "op_a")
    assert (await api.as_(token).get("/v1/auth/whoami"))[0] == 200
    clock.advance(days=366)
    status, body = await api.as_(token).get("/v1/auth/whoami")
    assert status == 401
    assert body["error"]["code"] == "token_expired"


async def test_rider_session_expires(api: Api, clock: MovableClock) -> None:
    rider = await api.sign_in("expiring")
    clock.advance(hours=721)
    status, body = await rider.get("/v1/me")
    assert (status, body["error"]["code"]) == (401, "token_expired")


async def test_revoked_token_is_refused_at_once(api: Api) -> None:
    services = api.client.server.app[SERVICES]
    issued = await services.credentials.issue("admin", "all")
    admin = api.as_(issued.token)
    assert (await admin.get("/v1/admin/credentials"))[0] == 200  # now cached by this worker
    other = await services.credentials.issue("admin", "all")
    status, _ = await api.as_(other.token).delete(f"/v1/admin/credentials/{issued.credential.id}")
    assert status == 200
    status, body = await admin.get("/v1/admin/credentials")
    assert (status, body["error"]["code"]) == (401, "token_revoked")


async def test_revocation_reaches_other_workers_within_the_cache_time(
    make_api: AppFactory, clock: MovableClock
) -> None:
    worker_a = await make_api()
    worker_b = await make_api()
    issued = await worker_a.client.server.app[SERVICES].credentials.issue("admin", "all")
    assert (await worker_b.as_(issued.token).get("/v1/auth/whoami"))[0] == 200
    await worker_a.client.server.app[SERVICES].credentials.revoke(issued.credential.id)
    clock.advance(seconds=6)  # cache_seconds is 5 in the test profile
    status, body = await worker_b.as_(issued.token).get("/v1/auth/whoami")
    assert (status, body["error"]["code"]) == (401, "token_revoked")


async def test_signing_out_revokes_the_session(api: Api) -> None:
    rider = await api.sign_in("leaving")
    assert (await rider.delete("/v1/auth/sessions/current"))[0] == 204
    assert (await rider.get("/v1/me"))[0] == 401


async def test_only_a_hash_of_the_token_is_stored(api: Api, pg: asyncpg.Connection) -> None:
    rider = await api.sign_in("hashed")
    assert rider.token is not None
    secret = rider.token.split(".", 2)[2]
    rows = await pg.fetch("SELECT row_to_json(c)::text AS row, secret_hash FROM credentials c")
    assert rows
    assert all(secret not in r["row"] for r in rows)
    assert hash_secret(secret) in {bytes(r["secret_hash"]) for r in rows}


async def test_admin_issues_and_lists_credentials_but_never_shows_tokens(make_api: AppFactory) -> None:
    api = await make_api(scopes=lambda kind: SCOPES.get(kind, set()))
    admin = api.as_(await issue(api, "admin", "all"))
    status, issued = await admin.post(
        "/v1/admin/credentials", {"kind": "gate", "scope": "op_a", "label": "gate 7"}
    )
    assert status == 201 and issued["token"].startswith("bya.")
    status, listing = await admin.get("/v1/admin/credentials?kind=gate")
    assert status == 200
    assert [c["id"] for c in listing["items"]] == [issued["id"]]
    assert "token" not in listing["items"][0]
    status, body = await admin.post("/v1/admin/credentials", {"kind": "gate", "scope": "op_zzz"})
    assert status == 400 and "scope" in body["error"]["details"]["fields"]


async def test_whoami_reports_the_calling_credential(make_api: AppFactory) -> None:
    api = await make_api(scopes=lambda kind: SCOPES.get(kind, set()))
    token = await issue(api, "counter", "ce_b")
    status, body = await api.as_(token).get("/v1/auth/whoami")
    assert status == 200
    assert (body["kind"], body["scope"]) == ("counter", "ce_b")
