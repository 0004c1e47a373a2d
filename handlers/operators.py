"""What operators see: their daily settlement, and the taps their gates flagged."""

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
    SettlementDay,
    SettlementOut,
    SettlementQuery,
)
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
