"""What gates call: issuer keys and the deny list (for offline checks), and online scans."""

from __future__ import annotations

import base64

import orjson
from aiohttp import web
from marshmallow import ValidationError

from bayaffairs.handlers.endpoint import Auth, Call, dump, endpoint
from bayaffairs.handlers.etag import etagged
from bayaffairs.handlers.jsonresp import json_response
from bayaffairs.handlers.schemas.transit import (
    DenyListOut,
    DenyListQuery,
    GateKeysOut,
    OfflineTapIn,
    ScanIn,
    ScanOut,
    TapBatchIn,
    TapBatchOut,
)
from bayaffairs.transit.keyring import ISSUER, key_number
from bayaffairs.transit.scans import Scan
from bayaffairs.transit.uploads import OfflineTap

routes = web.RouteTableDef()
GATE = Auth(("gate",))
_TAP_SCHEMA = OfflineTapIn()  # each tap is loaded on its own, so one bad tap rejects only itself


@routes.get("/v1/gate/keys")
@endpoint(
    summary="The ride-code issuer's public keys that verify now",
    tags=("gates",),
    auth=GATE,
    responses={200: GateKeysOut},
    description="Several keys are valid at once during rotation. Cacheable: send If-None-Match.",
)
async def gate_keys(call: Call) -> web.Response:
    transit = call.services.transit
    operator = transit.network.operator(call.principal.scope)  # type: ignore[union-attr]
    keys = [k for k in await transit.issuer_keys.published() if k.issuer == ISSUER]
    body = {
        "keys": [
            {
                "kid": k.kid,
                "key_number": key_number(k.kid),
                "algorithm": k.algorithm,
                "public_key": base64.b64encode(k.public_key).decode(),
                "valid_from": k.valid_from,
                "valid_until": k.valid_until,
                "signing": k.signing,
            }
            for k in keys
        ],
        "policy": {
            "code_seconds": transit.settings.code_seconds,
            "skew_seconds": transit.settings.skew_seconds,
            "scope": operator.scope_code if operator else 0,
        },
    }
    return etagged(call.request, orjson.dumps(dump(GateKeysOut, body)), {"Cache-Control": "no-cache"})


@routes.get("/v1/gate/denylist")
@endpoint(
    summary="Deny-list changes since a cursor",
    tags=("gates",),
    auth=GATE,
    query=DenyListQuery,
    responses={200: DenyListOut},
    description="Start with since=0; store next_cursor; apply changes in order (add, remove).",
)
async def denylist(call: Call) -> web.Response:
    delta = await call.services.transit.deny_list.since(call.query["since"], call.query["limit"])
    return json_response(dump(DenyListOut, delta))


@routes.post("/v1/gate/scans")
@endpoint(
    summary="Online scan: open or deny, the tap recorded before the answer",
    tags=("gates",),
    auth=GATE,
    body=ScanIn,
    responses={200: ScanOut},
    rate_class="scan",
    description="A bad code is a 200 deny with a reason: malformed, unknown_key, revoked, bad_signature, "
    "expired, not_yet_valid, wrong_scope, replayed, denied_account, wrong_direction, unfinished_journey.",
)
async def scan(call: Call) -> web.Response:
    transit = call.services.transit
    body = call.body
    payload = body["payload"] if isinstance(body["payload"], str) else ""
    decision = await transit.scans.scan(
        Scan(
            call.principal.scope,  # type: ignore[union-attr]
            body["gate_id"],
            body["station"],
            body["direction"],
            payload,
            body["scanned_at"],
        )
    )
    return json_response(dump(ScanOut, decision))


@routes.post("/v1/gate/taps:batch")
@endpoint(
    summary="Upload taps validated offline (idempotent per tap id)",
    tags=("gates",),
    auth=GATE,
    body=TapBatchIn,
    responses={200: TapBatchOut},
    rate_class="scan",
    description="Good taps are stored even when others in the batch are not; rejected ones are listed "
    "by index with a reason, duplicates counted. Signatures are verified and journeys paired afterwards.",
)
async def upload_taps(call: Call) -> web.Response:
    transit = call.services.transit
    taps, rejected = [], []
    schema = _TAP_SCHEMA
    for index, raw in enumerate(call.body["taps"]):
        if not isinstance(raw, dict):
            rejected.append((index, "invalid_tap"))
            continue
        try:
            taps.append((index, OfflineTap(**schema.load(raw))))
        except ValidationError as exc:
            field = next(iter(exc.messages)) if isinstance(exc.messages, dict) else "tap"
            rejected.append((index, f"invalid_{field}"))
    result = await transit.uploads.upload(call.principal.scope, [tap for _, tap in taps])  # type: ignore[union-attr]
    rejected += [(taps[i][0], reason) for i, reason in result.rejected]
    body = {
        "accepted": result.accepted,
        "duplicates": result.duplicates,
        "rejected": [{"index": i, "reason": r} for i, r in sorted(rejected)],
    }
    return json_response(dump(TapBatchOut, body))
