"""What operators see: their daily settlement, the taps their gates flagged, and the repairs of
unfinished journeys that wait for their decision."""

from __future__ import annotations

from datetime import date
from typing import Any

from aiohttp import web
from marshmallow import ValidationError

from bayaffairs.db.queries.settlements import Line
from bayaffairs.errors import InvalidInput
from bayaffairs.handlers.endpoint import Auth, Call, dump, endpoint
from bayaffairs.handlers.jsonresp import json_response
from bayaffairs.handlers.schemas.common import PageQuery
from bayaffairs.handlers.schemas.transit import (
    FlaggedTapList,
    RepairDecisionIn,
    RepairList,
    RepairOut,
    RepairQuery,
    SettlementDay,
    SettlementOut,
    SettlementQuery,
)
from bayaffairs.transit.repairs import RepairOutcome
from bayaffairs.transit.settlement import SettlementPage

routes = web.RouteTableDef()
OPERATOR = Auth(("operator", "admin"), scope_from="operator")


@routes.get("/v1/operators/{operator}/settlements")
@endpoint(
    summary="An operator's settlement for one of its local days, in its currency",
    tags=("operators",),
    auth=OPERATOR,
    query=SettlementQuery,
    responses={200: SettlementOut},
    errors=(404, 409),
    description="status open until the day's close (settlement_close of the next local day, 04:00 "
    "by default), and may change; closed: closed_at, the checksum of its CSV and the same lines "
    "forever. Later arrivals are adjustments (a reversal of what was settled and a restatement) "
    "of the next day to close, naming the journey and its original_date. Lines then adjustments, "
    "a page at a time (next_cursor); totals are the whole day's, per currency and charge status.",
)
async def settlement(call: Call) -> web.Response:
    page = await call.services.transit.settlements.page(
        call.path("operator"), call.query["date"], cursor=call.query["cursor"], limit=call.query["limit"]
    )
    return json_response(dump(SettlementOut, settlement_body(page)))


@routes.get("/v1/operators/{operator}/settlements/{date}.csv")
@endpoint(
    summary="An operator's settlement file for one of its local days (CSV, streamed)",
    tags=("operators",),
    auth=OPERATOR,
    responses={200: None},
    produces="text/csv",
    errors=(400, 404),
    description="A header row (operator, date, currency, status, closed_at), the columns, the "
    "lines then the adjustments, and '# total' rows per currency and charge status. A closed "
    "day's bytes never change; their SHA-256 is the ETag and the JSON's checksum.",
)
async def settlement_csv(call: Call) -> web.StreamResponse:
    settlements = call.services.transit.settlements
    operator, day = call.path("operator"), _day(call.path("date"))
    checksum = await settlements.checksum(operator, day)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{operator}-{day.isoformat()}.csv"',
            **({"ETag": f'"{checksum}"'} if checksum else {"Cache-Control": "no-store"}),
        }
    )
    await response.prepare(call.request)
    async for chunk in settlements.csv(operator, day):
        await response.write(chunk)
    await response.write_eof()
    return response


def _day(text: str) -> date:
    try:
        day: date = SettlementDay().load({"date": text})["date"]
    except ValidationError as exc:
        raise InvalidInput(exc.normalized_messages()) from exc
    return day


def settlement_body(page: SettlementPage) -> dict[str, Any]:
    return {
        **page.__dict__,
        "date": page.day,
        "lines": [_line(x) for x in page.lines],
        "adjustments": [_line(x) for x in page.adjustments],
    }


def _line(line: Line) -> dict[str, Any]:
    return {
        **line.__dict__,
        "discounts": [{"product": p, "amount": a} for p, a in line.discounts],
        "rider_amount": None
        if line.rider_amount is None or line.rider_currency is None
        else {"amount": line.rider_amount, "currency": line.rider_currency},
        "fx_rate": None if line.fx_rate is None else str(line.fx_rate),
    }


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


def _repair(outcome: RepairOutcome) -> dict[str, Any]:
    r, j = outcome.repair, outcome.journey
    fare = {"amount": j.fare_amount, "currency": j.fare_currency} if j.fare_amount is not None else None
    return {**r.__dict__, "entry_station": j.entry_station, "entry_at": j.entry_at, "fare": fare}


@routes.get("/v1/operators/{operator}/repairs")
@endpoint(
    summary="Repairs of the operator's unfinished journeys (status=pending: those to decide)",
    tags=("operators",),
    auth=OPERATOR,
    query=RepairQuery,
    responses={200: RepairList},
    errors=(404,),
    description="In id order; paginate with cursor. Each with the journey's entry and its fare now "
    "(the maximum fare while a repair is pending).",
)
async def repairs(call: Call) -> web.Response:
    page = await call.services.transit.repairs.listing(
        call.path("operator"),
        status=call.query["status"],
        cursor=call.query["cursor"],
        limit=call.query["limit"],
    )
    body = {"items": [_repair(o) for o in page.items], "next_cursor": page.next_cursor}
    return json_response(dump(RepairList, body))


@routes.post("/v1/operators/{operator}/repairs/{repair_id}")
@endpoint(
    summary="Approve or refuse a pending repair",
    tags=("operators",),
    auth=OPERATOR,
    body=RepairDecisionIn,
    responses={200: RepairOut},
    errors=(404, 409),
    description="approve: the journey is priced from entry to the rider's exit and the difference to "
    "what was charged refunded; refuse: the maximum fare stands. A repair decided already is 409 "
    "repair_decided; one whose journey a tap-out completed meanwhile becomes superseded.",
)
async def decide_repair(call: Call) -> web.Response:
    assert call.principal is not None
    outcome = await call.services.transit.repairs.decide(
        call.path("operator"), call.path("repair_id"), call.body["decision"], call.principal.credential_id
    )
    return json_response(dump(RepairOut, _repair(outcome)))
