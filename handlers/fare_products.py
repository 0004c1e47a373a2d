"""The rider's fare products: the month so far under each."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bayaffairs.handlers.endpoint import RIDER, Call, dump, endpoint
from bayaffairs.handlers.jsonresp import json_response
from bayaffairs.handlers.schemas.transit import FareProductList
from bayaffairs.transit.products import Progress

routes = web.RouteTableDef()


def _money(amount: int | None, currency: str) -> dict[str, Any] | None:
    return None if amount is None else {"amount": amount, "currency": currency}


def shape(p: Progress, language: str) -> dict[str, Any]:
    product, currency = p.product, p.product.currency
    discount = product.kind == "monthly_spend_discount"
    return {
        "product": product.id,
        "kind": product.kind,
        "name": product.name.get(language),
        "month": p.month.strftime("%Y-%m"),
        "journeys": p.journeys,
        "spent": _money(p.spent, currency),
        "discount": _money(p.value, currency) if discount else None,
        "credit": None if discount else _money(p.value, currency),
        "cap": _money(product.cap, currency),
        "next_tier": None
        if p.next_tier is None
        else {"above": _money(p.next_tier.above, currency), "percent": p.next_tier.percent},
    }


@routes.get("/v1/me/fare-products")
@endpoint(
    summary="The rider's fare products: this month so far under each",
    tags=("journeys",),
    auth=RIDER,
    responses={200: FareProductList},
    description="monthly_spend_discount: the discount taken off this month's journeys so far (each "
    "journey shows its share under discounts) and the next tier; monthly_subsidy: the credit this "
    "month's spend has earned so far (up to cap), paid as its own credit line, not off fares. "
    "Months are the product's own calendar.",
)
async def fare_products(call: Call) -> web.Response:
    progress = await call.services.transit.products.progress(call.rider)
    return json_response(dump(FareProductList, {"items": [shape(p, call.language) for p in progress]}))
