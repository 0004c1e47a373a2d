"""Pricing a journey again once its real end is known: a late tap-out, a repair.

A journey closed as unfinished was priced at its operator's rule (the maximum fare) and charged
at once. When its end becomes known the fare goes down to the real one, never up past what was
charged (a second maximum fare is never due), and the rider gets the difference back:

* the charge has not reached the provider yet (pending, held, or declined and owed as a debt):
  the journey is simply priced again, at the rate it was priced at, so the charge or the debt
  is the new fare;
* the charge was sent or went through: the journey keeps the charge as made, the fare becomes
  the new one, and the difference is a refund line of its own (journey_refunds), which the
  charging job pays back through the provider once the charge has gone through.

Fare products (bayaffairs/transit/products.py) are priced again with it: a journey whose
discounts were taken (by the charging job) takes the discounts of its new fare instead, as if it
had been priced right the first time, against the rider's month-to-date spend on the other
journeys (under the rider's product lock, through the same code the charging job uses), and the
month counts its new fare. Other journeys of the month keep their discounts. A journey not
charged yet gets its discounts when it is charged, as any other.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime

from bayaffairs.db.queries import debts as debts_q
from bayaffairs.db.queries import journeys as q
from bayaffairs.db.queries import users as users_q
from bayaffairs.errors import DomainError
from bayaffairs.fx import Converter, convert
from bayaffairs.ids import new_id
from bayaffairs.money import Money
from bayaffairs.storage import Connection
from bayaffairs.transit.model import NO_PARTS, FareParts
from bayaffairs.transit.products import FareProducts

log = logging.getLogger("bayaffairs.repricing")
SENT = ("charging", "charged")


@dataclass(frozen=True)
class Repriced:
    journey_id: str
    fare: Money
    charge: Money | None
    refund: Money | None  # in the charge's currency: what the rider gets back


def capped(journey: q.JourneyRow, fare: Money) -> Money:
    """`fare`, never more than the journey is priced at already (its maximum fare; both before
    fare products)."""
    before = journey.product_spend if journey.product_spend is not None else journey.fare_amount
    if before is None or journey.fare_currency != fare.currency:
        return fare
    return Money(min(fare.amount, before), fare.currency)


async def with_products(
    conn: Connection, journey: q.JourneyRow, fare: Money, products: FareProducts
) -> Money:
    """`fare` (capped) less the fare products the journey takes at it, if they were priced in;
    never more than the journey's fare now."""
    fare = capped(journey, fare)
    if journey.fare_currency != fare.currency:
        return fare
    net = await products.reprice(conn, journey.id, journey.operator, fare.amount)
    if net is None:
        return fare
    return Money(net if journey.fare_amount is None else min(net, journey.fare_amount), fare.currency)


async def reprice(
    conn: Connection,
    journey: q.JourneyRow,
    fare: Money,
    rule: str,
    *,
    converter: Converter,
    products: FareProducts,
    now: datetime,
    reason: str,
    parts: FareParts = NO_PARTS,
    share_weights: dict[str, int] | None = None,
) -> Repriced:
    """Price `journey` (locked by the caller, in its transaction) at `fare` (capped: see
    `capped`; less its fare products: see `with_products`; `parts`: how the fare came from the
    full fare); `reason` names the refund line, if one is due. `share_weights`: whose lines the
    journey used, for a through journey (bayaffairs/transit/through.py)."""
    if capped(journey, fare) != fare:
        parts = NO_PARTS  # the fare charged stands: not the parts of the one asked for
    fare = await with_products(conn, journey, fare, products)
    if journey.charge_status in SENT and (journey.charge_amount is None or not journey.charge_currency):
        # claimed before its charge was converted (no rate when it was priced): the charging
        # job converts the fare it finds when it sets the charge (RideCharges._amount)
        await q.set_fare(conn, journey.id, fare.amount, rule, parts)
        await q.set_share_weights(conn, journey.id, share_weights)
        return Repriced(journey.id, fare, None, None)
    if journey.charge_status in SENT and journey.charge_amount is not None and journey.charge_currency:
        charged = Money(journey.charge_amount, journey.charge_currency)
        new_charge = charged.amount
        if journey.fx_rate is not None:
            new_charge = convert(fare.amount, fare.currency, charged.currency, journey.fx_rate)
        await q.set_fare(conn, journey.id, fare.amount, rule, parts)
        await q.set_share_weights(conn, journey.id, share_weights)
        back = charged.amount - min(new_charge, charged.amount)
        if back <= 0:
            return Repriced(journey.id, fare, charged, None)
        old_fare = journey.fare_amount if journey.fare_amount is not None else fare.amount
        await q.insert_refund(
            conn,
            q.RefundLine(
                id=new_id("rfd"),
                journey_id=journey.id,
                amount=back,
                currency=charged.currency,
                fare_amount=max(old_fare - fare.amount, 0),
                fare_currency=fare.currency,
                reason=reason,
                status="pending",
                created_at=now,
            ),
            user_id=journey.user_id,
        )
        return Repriced(journey.id, fare, charged, Money(back, charged.currency))
    price = await price_of(conn, journey, fare, rule, converter=converter, now=now, parts=parts)
    await q.set_prices(conn, [replace(price, share_weights=share_weights)])
    if journey.charge_status == "failed":  # owed: the debt is the new charge, still owed
        await q.keep_failed(conn, journey.id)
        await debts_q.reprice(
            conn, journey.id, price.charge_amount if price.charge_amount is not None else fare.amount
        )
    charge = (
        Money(price.charge_amount, price.charge_currency)
        if price.charge_amount is not None and price.charge_currency
        else None
    )
    return Repriced(journey.id, fare, charge, None)


async def price_of(
    conn: Connection,
    journey: q.JourneyRow,
    fare: Money,
    rule: str,
    *,
    converter: Converter,
    now: datetime,
    held: bool = False,
    parts: FareParts = NO_PARTS,
) -> q.Price:
    """The fare, and the charge: at the rate the journey was priced at, if it was; else at
    today's (or later, by the charging job, when there is none now)."""
    if journey.fx_rate is not None and journey.charge_currency and journey.fx_source:
        amount = convert(fare.amount, fare.currency, journey.charge_currency, journey.fx_rate)
        return q.Price(
            journey.id,
            fare.amount,
            fare.currency,
            rule,
            amount,
            journey.charge_currency,
            journey.fx_rate,
            journey.fx_source,
            held,
            parts,
        )
    user = await users_q.get(conn, journey.user_id)
    wallet = user.wallet_currency if user else None
    return await priced_in_wallet(converter, journey.id, fare, rule, wallet, now, held=held, parts=parts)


async def priced_in_wallet(
    converter: Converter,
    journey_id: str,
    fare: Money,
    rule: str,
    wallet: str | None,
    now: datetime,
    *,
    held: bool = False,
    parts: FareParts = NO_PARTS,
    share_weights: dict[str, int] | None = None,
) -> q.Price:
    """The fare and its charge in the rider's wallet currency at today's rate. Without a wallet,
    or without a rate for it (a feed outage must not stop gates), the fare stands and the charge
    is converted later by the charging job."""
    unconverted = q.Price(
        journey_id, fare.amount, fare.currency, rule, None, None, None, None, held, parts, share_weights
    )
    if wallet is None:
        return unconverted
    try:
        charge = await converter.charge(fare, wallet, now)
    except (DomainError, LookupError) as exc:
        log.warning(
            "journey %s: no %s/%s rate now (%r); the charge is converted later",
            journey_id,
            fare.currency,
            wallet,
            exc,
        )
        return unconverted
    return q.Price(
        journey_id,
        fare.amount,
        fare.currency,
        rule,
        charge.charge.amount,
        wallet,
        charge.rate,
        charge.source,
        held,
        parts,
        share_weights,
    )
