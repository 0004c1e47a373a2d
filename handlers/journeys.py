"""The rider's journeys, repairing an unfinished one, and the debts of declined charges."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from bayaffairs.handlers.endpoint import RIDER, Call, dump, endpoint
from bayaffairs.handlers.jsonresp import json_response
from bayaffairs.handlers.schemas.transit import (
    DebtList,
    DebtOut,
    JourneyOut,
    JourneyPage,
    JourneyQuery,
    RepairIn,
    RepairPending,
)
from bayaffairs.transit.debts import Debt
from bayaffairs.transit.journeys import Journey

routes = web.RouteTableDef()


def shape(row: Journey, zone: tzinfo = UTC, product_name: Callable[[str], str] = str) -> dict[str, Any]:
    """`zone`: the operator's, so entry and exit read as the wall times of the place;
    `product_name`: a discount line's name by its id (a fare product, a transfer)."""
    out = dict(row.__dict__)
    for name in ("entry_at", "exit_at", "created_at"):
        if out[name] is not None:
            out[name] = out[name].astimezone(zone)
    out["fare"] = (
        {"amount": row.fare_amount, "currency": row.fare_currency} if row.fare_amount is not None else None
    )
    out["charge"] = (
        {"amount": row.charge_amount, "currency": row.charge_currency}
        if row.charge_amount is not None
        else None
    )
    out["fx_rate"] = str(row.fx_rate.normalize()) if row.fx_rate is not None else None
    # base_fare - concession - discounts (transfers, then fare products) = fare
    transfers = [(p, a) for p, a in row.transfer_discounts or ()]
    before_products = row.product_spend if row.product_spend is not None else row.fare_amount
    if before_products is None:
        out["base_fare"] = out["concession"] = None
    else:
        base = before_products + row.concession + sum(a for _, a in transfers)
        out["base_fare"] = {"amount": base, "currency": row.fare_currency}
        out["concession"] = {"amount": row.concession, "currency": row.fare_currency}
    out["discounts"] = [
        {"product": p, "name": product_name(p), "amount": a} for p, a in [*transfers, *(row.discounts or ())]
    ]
    out["refunds"] = [
        {
            "id": r.id,
            "amount": {"amount": r.amount, "currency": r.currency},
            "fare": {"amount": r.fare_amount, "currency": r.fare_currency},
            "reason": r.reason,
            "status": r.status,
            "created_at": r.created_at,
        }
        for r in row.refunds
    ]
    return out


@routes.get("/v1/journeys")
@endpoint(
    summary="The rider's journeys, newest first",
    tags=("journeys",),
    auth=RIDER,
    query=JourneyQuery,
    responses={200: JourneyPage},
)
async def list_journeys(call: Call) -> web.Response:
    page = await call.services.transit.journeys.list(
        call.rider, cursor=call.query["cursor"], limit=call.query["limit"]
    )
    return json_response(
        dump(
            JourneyPage,
            {
                "items": [shape(j, _zone(call, j), _discount_name(call, j)) for j in page.items],
                "next_cursor": page.next_cursor,
            },
        )
    )


@routes.post("/v1/journeys/{journey_id}/repair")
@endpoint(
    summary="Close an unfinished journey at the station where the rider really left",
    tags=("journeys",),
    auth=RIDER,
    body=RepairIn,
    responses={200: JourneyOut, 202: RepairPending},
    errors=(400, 404, 409),
    description="Within `repair_days` of the entry, also for a journey already charged the maximum "
    "fare (the difference is refunded as a line of its own). The operator's `self_repairs_per_month` "
    "first repairs of a month are priced at once (200, the journey); beyond that the repair waits for "
    "the operator (202 pending_review) and the maximum fare stands until it decides. An exit equal "
    "to the entry is 400; a journey has one repair (409 repair_exists once decided).",
)
async def repair(call: Call) -> web.Response:
    outcome = await call.services.transit.repairs.ask(
        call.rider, call.path("journey_id"), call.body["exit_station"]
    )
    if outcome.repair.status == "pending":
        body = {"status": "pending_review", "repair_id": outcome.repair.id, "journey_id": outcome.journey.id}
        return json_response(dump(RepairPending, body), status=202)
    return json_response(
        dump(
            JourneyOut,
            shape(outcome.journey, _zone(call, outcome.journey), _discount_name(call, outcome.journey)),
        )
    )


def _discount_name(call: Call, journey: Journey) -> Callable[[str], str]:
    """A discount line's name: its fare product's, else its operator's transfer discount's
    title, else its id."""
    products = call.services.transit.products
    operator = call.services.transit.network.operator(journey.operator)
    pricing = getattr(operator.fares, "pricing", None) if operator is not None else None
    transfers = {t.name: t.title for t in pricing.transfers if t.title} if pricing is not None else {}

    def name(discount: str) -> str:
        text = products.name(discount) or transfers.get(discount)
        return text.get(call.language) if text is not None else discount

    return name


def _zone(call: Call, journey: Journey) -> tzinfo:
    operator = call.services.transit.network.operator(journey.operator)
    return ZoneInfo(operator.info.time_zone) if operator is not None else UTC


def debt_shape(debt: Debt) -> dict[str, Any]:
    return {
        **debt.__dict__,
        "amount": {"amount": debt.amount, "currency": debt.currency},
        "pay": f"POST /v1/me/debts/{debt.id}/payment",
    }


@routes.get("/v1/me/debts")
@endpoint(
    summary="The rider's debts: ride charges their wallet declined, newest first",
    tags=("journeys",),
    auth=RIDER,
    responses={200: DebtList},
    description="While any is not paid the account is on the deny list (no code, gates refuse it). "
    "Each is retried automatically, 3 tries over 3 days; paying it (or a retry that goes through) "
    "puts a remove for the account in the deny-list delta once no debt is left.",
)
async def list_debts(call: Call) -> web.Response:
    debts = await call.services.transit.debts.list(call.rider)
    return json_response(dump(DebtList, {"items": [debt_shape(d) for d in debts]}))


@routes.post("/v1/me/debts/{debt_id}/payment")
@endpoint(
    summary="Pay a debt now, through the rider's wallet",
    tags=("journeys",),
    auth=RIDER,
    responses={200: DebtOut},
    idempotent=True,
    errors=(404, 409, 502),
    description="200 with the debt paid (a debt paid already answers as it is); 409 payment_declined "
    "(still owed, automatic retries go on), 409 debt_payment_in_progress (an automatic retry is "
    "charging it: look again shortly); 502 when the wallet did not answer.",
)
async def pay_debt(call: Call) -> web.Response:
    debt = await call.services.transit.debts.pay(call.rider, call.path("debt_id"))
    return json_response(dump(DebtOut, debt_shape(debt)))
