"""Fare products: what a rider's month of journeys is worth beyond each trip's price.

Two kinds, configured per jurisdiction (`[fare_products.<id>]` in config/jurisdictions/*.toml)
over the operators they cover, in the jurisdiction's currency and calendar:

- `monthly_spend_discount` (Guangzhou's metro and bus discount): percent off the part of the
  calendar month's spend above each tier's threshold. It is priced into journeys, as a discount
  line of its own, when the journey is charged: the discount of a journey is what the month's
  discount comes to with it less what it came to without it, so the month's discounts add up to
  the discount of the month's spend whatever order journeys arrive in (an offline tap uploaded a
  day late changes no other journey).
- `monthly_subsidy` (Hong Kong's Public Transport Fare Subsidy Scheme): a share of the month's
  spend above a threshold, up to a cap, credited to the rider for the month and shown as its own
  credit line; it changes no fare.

Spend is the fare after concessions and transfer discounts, before fare products.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any, Literal
from zoneinfo import ZoneInfo

from bayaffairs.clock import Clock
from bayaffairs.config.regions import Jurisdiction
from bayaffairs.db.queries import fare_products as q
from bayaffairs.db.queries.journeys import ChargeJob
from bayaffairs.fx import convert
from bayaffairs.i18n import Text
from bayaffairs.storage import Connection, Database

ProductKind = Literal["monthly_spend_discount", "monthly_subsidy"]


def _half_up(value: Fraction) -> int:
    return int(
        (Decimal(value.numerator) / Decimal(value.denominator)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    )


@dataclass(frozen=True)
class Tier:
    above: int  # minor units of the month's spend
    percent: int


@dataclass(frozen=True)
class FareProduct:
    id: str
    kind: ProductKind
    name: Text
    operators: frozenset[str]
    currency: str
    time_zone: str
    tiers: tuple[Tier, ...] = ()  # monthly_spend_discount
    threshold: int = 0  # monthly_subsidy: spend above this counts
    share: Fraction = Fraction(1, 3)
    cap: int | None = None

    def value(self, spend: int) -> int:
        """The month's discount (or credit) for a month's spend, rounded half up."""
        if self.kind == "monthly_subsidy":
            credit = _half_up(max(0, spend - self.threshold) * self.share)
            return credit if self.cap is None else min(credit, self.cap)
        total = Fraction(0)
        bounds = [t.above for t in self.tiers[1:]] + [None]
        for tier, upper in zip(self.tiers, bounds, strict=True):
            top = spend if upper is None else min(spend, upper)
            total += Fraction(max(0, top - tier.above) * tier.percent, 100)
        return _half_up(total)

    def discount(self, before: int, fare: int) -> int:
        """What a journey of `fare` takes off when the month's spend so far is `before`."""
        return self.value(before + fare) - self.value(before)

    def month(self, at: datetime) -> tuple[date, datetime, datetime]:
        """The calendar month `at` falls in (its first day, start and end) in the product's zone."""
        zone = ZoneInfo(self.time_zone)
        first = at.astimezone(zone).date().replace(day=1)
        following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
        return first, datetime.combine(first, time(0), zone), datetime.combine(following, time(0), zone)


def products_of(jurisdictions: Iterable[Jurisdiction]) -> list[FareProduct]:
    out = []
    for j in jurisdictions:
        for product_id, settings in sorted(j.fare_products.items()):
            out.append(_product(product_id, settings, j))
    return out


def _product(product_id: str, s: Mapping[str, Any], j: Jurisdiction) -> FareProduct:
    return FareProduct(
        id=product_id,
        kind=s["kind"],
        name=s["name"],
        operators=frozenset(s["operators"]),
        currency=j.currency,
        time_zone=j.time_zone,
        tiers=tuple(Tier(t["above"], t["percent"]) for t in s.get("tiers", ())),
        threshold=s.get("threshold", 0),
        share=Fraction(*s.get("share", (1, 3))),
        cap=s.get("cap"),
    )


@dataclass(frozen=True)
class Progress:
    """A rider's month so far under one product."""

    product: FareProduct
    month: date
    journeys: int
    spent: int
    value: int  # discount taken so far, or credit earned so far
    next_tier: Tier | None


class FareProducts:
    def __init__(self, db: Database, clock: Clock, products: Sequence[FareProduct]) -> None:
        self.db = db
        self.clock = clock
        self.products = list(products)
        self._discounts: dict[str, list[FareProduct]] = {}
        for product in self.products:
            if product.kind == "monthly_spend_discount":
                for operator in product.operators:
                    self._discounts.setdefault(operator, []).append(product)

    def name(self, product_id: str) -> Text | None:
        """A product's name; None for an id that is no product (any more)."""
        product = next((p for p in self.products if p.id == product_id), None)
        return product.name if product is not None else None

    async def price(self, job: ChargeJob) -> ChargeJob:
        """Take the journey's spend discounts off its fare (once) before it is charged; the job
        with the fare and charge it now has."""
        if not self._discounts.get(job.operator):
            return job
        async with self.db.transaction() as conn:
            return await self.price_in(conn, job)

    async def price_in(self, conn: Connection, job: ChargeJob) -> ChargeJob:
        """`price`, in the caller's transaction (the charging job's claim: see
        bayaffairs/transit/charging.py)."""
        products = self._discounts.get(job.operator)
        if not products:
            return job
        row = await q.journey_for_products(conn, job.journey_id)
        if row is None or row.product_spend is not None or row.fare_amount is None:
            return job  # priced in already (a retried charge): the claim read the fare as it is
        offs = await self._offs(conn, job.journey_id, row, products, row.fare_amount)
        fare = max(0, row.fare_amount - sum(off for _, off in offs))
        charge = (
            convert(fare, row.fare_currency, row.charge_currency, row.fx_rate)
            if row.charge_currency is not None and row.fx_rate is not None
            else None
        )
        await q.set_products(
            conn, job.journey_id, spend=row.fare_amount, discounts=offs, fare=fare, charge=charge
        )
        return replace(job, fare_amount=fare, amount=charge if charge is not None else job.amount)

    async def reprice(self, conn: Connection, journey_id: str, operator: str, base: int) -> int | None:
        """A journey whose products were priced in, priced again at `base` before them (a late
        tap-out, a repair: bayaffairs/transit/repricing.py): it takes the discounts it would have
        taken had it been priced at `base` the first time, computed as `price` does (against the
        month's spend of the rider's other journeys, under the rider's product locks), and counts
        `base` towards the month. The fare after them; None when its products are not priced yet
        (the charging job prices them when it charges the journey, as any other). Call in the
        transaction that locked the journey."""
        products = self._discounts.get(operator)
        if not products:
            return None
        row = await q.journey_for_products(conn, journey_id)
        if row is None or row.product_spend is None:
            return None
        offs = await self._offs(conn, journey_id, row, products, base)
        await q.set_product_lines(conn, journey_id, spend=base, discounts=offs)
        return max(0, base - sum(off for _, off in offs))

    async def _offs(
        self,
        conn: Connection,
        journey_id: str,
        row: q.ProductJourney,
        products: Sequence[FareProduct],
        base: int,
    ) -> list[tuple[str, int]]:
        """[(product, discount)] of the journey at `base`: what each product's month comes to
        with it less without it. Each product's lock for the rider is held to the end of the
        transaction, so two journeys priced at once never both count the same spend before them."""
        offs: list[tuple[str, int]] = []
        for product in products:
            await q.lock_rider_product(conn, row.user_id, product.id)
            _, start, end = product.month(row.settles_at)
            before = await q.spend(conn, row.user_id, sorted(product.operators), start, end, journey_id)
            off = product.discount(before, base)
            if off:
                offs.append((product.id, off))
        return offs

    async def progress(self, user_id: str) -> list[Progress]:
        """This month so far, per product, in each product's calendar."""
        now = self.clock.now()
        out = []
        async with self.db.acquire() as conn:
            for product in self.products:
                first, start, end = product.month(now)
                journeys, spent, discounts = await q.month(
                    conn, user_id, sorted(product.operators), product.id, start, end
                )
                value = discounts if product.kind == "monthly_spend_discount" else product.value(spent)
                next_tier = next((t for t in product.tiers if t.above > spent), None)
                out.append(Progress(product, first, journeys, spent, value, next_tier))
        return out
