"""Routes and departures as riders search them, fares in the carrier's currency and, for a
signed-in rider with a wallet, in the wallet's currency too (at the FX source's rate)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

from bayaffairs.clock import Clock
from bayaffairs.db.queries import travel as dq
from bayaffairs.fx import Converter, convert
from bayaffairs.i18n import Text
from bayaffairs.money import Money
from bayaffairs.pages import Page
from bayaffairs.storage import Connection, Database
from bayaffairs.travel.carriers import Carriers

BAY_AREA = timezone(timedelta(hours=8))  # every carrier here keeps UTC+8
STATIC_CACHE_MAX = 20_000  # departures kept (14 days of every route is a few thousand)


@dataclass(frozen=True)
class PortView:
    id: str
    name: Text
    jurisdiction: str
    region: str


@dataclass(frozen=True)
class RouteView:
    id: str
    carrier: str
    carrier_name: Text
    mode: str
    origin: PortView
    destination: PortView
    duration_minutes: int
    control_point: Text
    currency: str
    fare_classes: tuple[str, ...]
    demo: bool


@dataclass(frozen=True)
class FareView:
    fare_class: str
    name: Text
    fare: Money
    wallet_fare: Money | None = None


@dataclass(frozen=True)
class DepartureView:
    """A departure as searched, without its seats: the same object for every search that
    finds it (per wallet currency and rate), so callers may cache what they make of it."""

    id: str
    carrier: str
    carrier_name: Text
    mode: str
    route: str
    origin: str
    destination: str
    departs_at: datetime
    arrives_at: datetime
    fares: tuple[FareView, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Listing:
    """A departure found and its seats remaining, per fare in the order of `departure.fares`."""

    departure: DepartureView
    seats_remaining: tuple[int, ...]


class TravelSearch:
    def __init__(self, db: Database, clock: Clock, carriers: Carriers, converter: Converter) -> None:
        self.db = db
        self.clock = clock
        self.carriers = carriers
        self.converter = converter
        self._static: dict[str, DepartureView] = {}
        self._wallet_views: dict[tuple[str, str, Decimal], DepartureView] = {}

    def routes(self, mode: str | None = None) -> list[RouteView]:
        out = []
        for carrier in self.carriers.by_id.values():
            tt = carrier.timetable
            if mode and tt.mode != mode:
                continue
            for route in tt.routes.values():
                out.append(
                    RouteView(
                        id=f"{carrier.id}.{route.id}",
                        carrier=carrier.id,
                        carrier_name=tt.name,
                        mode=tt.mode,
                        origin=self._port(carrier.id, route.origin),
                        destination=self._port(carrier.id, route.destination),
                        duration_minutes=route.duration_minutes,
                        control_point=tt.control_points[route.control_point].name,
                        currency=tt.currency,
                        fare_classes=tuple(c for c in tt.fare_classes if c in route.fares),
                        demo=tt.demo,
                    )
                )
        return out

    def _port(self, carrier_id: str, port_id: str) -> PortView:
        tt = self.carriers.by_id[carrier_id].timetable
        port = tt.ports[port_id]
        return PortView(port.id, port.name, port.jurisdiction, self.carriers.port_region(tt, port.id))

    async def departures(
        self,
        *,
        origin: str | None,
        destination: str | None,
        day: date | None,
        mode: str | None,
        wallet_currency: str | None,
        cursor: str | None,
        limit: int,
    ) -> Page[Listing]:
        """One lean query for the seats; everything else comes from the in-process cache
        (a departure changes only with a new timetable, whose run drops it from the cache)."""
        now = self.clock.now()
        if day is None:
            after, before = now, now + timedelta(days=1)
        else:
            after = max(now, datetime.combine(day, time(0), BAY_AREA))
            before = datetime.combine(day + timedelta(days=1), time(0), BAY_AREA)
        async with self.db.acquire() as conn:
            found = await dq.search_seats(
                conn,
                origin=origin,
                destination=destination,
                mode=mode,
                carriers=list(self.carriers.by_id),
                after=after,
                before=before,
                cursor=cursor,
                limit=limit + 1,
            )
            missing = [i for i, _ in found if i not in self._static]
            if missing:
                await self._load(conn, missing)
        rates: dict[str, Decimal] = {}
        listings = []
        for departure_id, free in found:
            view = self._static[departure_id]
            if wallet_currency:
                currency = view.fares[0].fare.currency if view.fares else wallet_currency
                if currency not in rates:
                    rates[currency] = (await self.converter.rate(currency, wallet_currency, now)).rate
                view = self._in_wallet(view, wallet_currency, rates[currency])
            listings.append(Listing(view, tuple(free.get(f.fare_class, 0) for f in view.fares)))
        return Page.from_rows(listings, limit, key=lambda item: item.departure.id)

    def forget(self, departure_ids: Iterable[str]) -> None:
        """Drop what is kept of departures a new timetable changed."""
        ids = set(departure_ids)
        for departure_id in ids:
            self._static.pop(departure_id, None)
        for key in [k for k in self._wallet_views if k[0] in ids]:
            del self._wallet_views[key]

    async def _load(self, conn: Connection, ids: Sequence[str]) -> None:
        if len(self._static) > STATIC_CACHE_MAX:
            self._static.clear()
            self._wallet_views.clear()
        for row in await dq.static_departures(conn, ids):
            tt = self.carriers.by_id[row.carrier].timetable
            self._static[row.id] = DepartureView(
                row.id,
                row.carrier,
                tt.name,
                row.mode,
                row.route,
                row.origin,
                row.destination,
                row.departs_at.astimezone(tt.zone),
                row.arrives_at.astimezone(tt.zone),
                tuple(
                    FareView(c, tt.fare_classes[c].name, Money(amount, row.currency))
                    for c, amount in row.classes
                ),
            )

    def _in_wallet(self, view: DepartureView, currency: str, rate: Decimal) -> DepartureView:
        """The view with wallet fares, converted once per (departure, currency, rate)."""
        key = (view.id, currency, rate)
        found = self._wallet_views.get(key)
        if found is None:
            if len(self._wallet_views) > STATIC_CACHE_MAX:
                self._wallet_views.clear()
            fares = tuple(
                dataclasses.replace(
                    f, wallet_fare=Money(convert(f.fare.amount, f.fare.currency, currency, rate), currency)
                )
                for f in view.fares
            )
            found = self._wallet_views[key] = dataclasses.replace(view, fares=fares)
        return found


def ports_of(routes: Sequence[RouteView]) -> set[str]:
    return {r.origin.id for r in routes} | {r.destination.id for r in routes}
