"""What operators see: their daily settlement, and the taps their gates flagged."""

from __future__ import annotations

from aiohttp import web

from bayaffairs.handlers.endpoint import Auth, Call, dump, endpoint
from bayaffairs.handlers.jsonresp import json_response
from bayaffairs.handlers.schemas.common import PageQuery
from bayaffairs.handlers.schemas.transit import FlaggedTapList, SettlementOut, SettlementQuery

routes = web.RouteTableDef()
OPERATOR = Auth(("operator", "admin"), scope_from="operator")


@routes.get("/v1/operators/{operator}/settlements")
@endpoint(
    summary="An operator's settlement for one of its local days, in its currency",
    tags=("operators",),
    auth=OPERATOR,
    query=SettlementQuery,
    responses={200: SettlementOut},
    errors=(404,),
    description="`bayaffairs settlement run` writes the same lines as the operator's clearing file (CSV).",
)
async def settlement(call: Call) -> web.Response:
    result = await call.services.transit.settlements.day(call.path("operator"), call.query["date"])
    body = {
        "operator": result.operator,
        "date": result.day,
        "currency": result.currency,
        "journeys": result.journeys,
        "total": result.total.as_dict(),
        "totals_by_status": result.by_status,
        "items": [
            {
                "journey_id": line.id,
                "status": line.status,
                "category": line.category,
                "entry_station": line.entry_station,
                "entry_at": line.entry_at,
                "exit_station": line.exit_station,
                "exit_at": line.exit_at,
                "fare": {"amount": line.fare_amount, "currency": line.fare_currency},
                "rule": line.fare_rule,
            }
            for line in result.lines
        ],
    }
    return json_response(dump(SettlementOut, body))


@routes.get("/v1/operators/{operator}/flagged-taps")
@endpoint(
    summary="Offline taps the operator's gates flagged for review",
    tags=("operators",),
    auth=OPERATOR,
    query=PageQuery,
    responses={200: FlaggedTapList},
    description="flags: stale (the gate opened past the operator's max_stale_hours without a fresh "
    "sync of keys and deny list, under the flag stale policy). Each tap with what became of it: "
    "pending, recorded (journey_id) or refused (reason). In tap id order; paginate with cursor.",
)
async def flagged_taps(call: Call) -> web.Response:
    page = await call.services.transit.uploads.flagged(
        call.path("operator"), cursor=call.query["cursor"], limit=call.query["limit"]
    )
    return json_response(dump(FlaggedTapList, page))
