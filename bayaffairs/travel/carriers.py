"""The border carriers enabled in config, their timetables, and departures materialised
from them into the database for the days ahead (idempotent: run at start and daily)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from bayaffairs.adapters.protocols import BorderCarrier, CarrierRefused, Notification, Notifier
from bayaffairs.clock import Clock
from bayaffairs.config.regions import Jurisdiction
from bayaffairs.db.queries import travel as q
from bayaffairs.db.queries import travel_bookings as bq
from bayaffairs.errors import PartnerError
from bayaffairs.i18n import Text
from bayaffairs.storage import Database
from bayaffairs.transfers import Recipient
from bayaffairs.travel.errors import CarrierDeclined, CarrierFailed, CarrierTimeout
from bayaffairs.travel.model import Departure
from bayaffairs.travel.timetable import Timetable

T = TypeVar("T")
log = logging.getLogger("bayaffairs.travel")


@dataclass(frozen=True)
class Carrier:
    id: str
    adapter: BorderCarrier
    timetable: Timetable
    region: str  # CN, HK or MO: where the carrier is, hence where passenger data goes
    personal_data: tuple[str, ...]
    remote: bool


class Carriers:
    """Carrier adapters by id, and the legal region of every port they serve."""

    def __init__(
        self,
        adapters: Iterable[BorderCarrier],
        jurisdictions: Mapping[str, Jurisdiction],
        timeout_seconds: float,
    ) -> None:
        self.timeout_seconds = timeout_seconds
        self._jurisdictions = jurisdictions
        self.by_id: dict[str, Carrier] = {}
        for adapter in adapters:
            timetable = adapter.timetable()
            home = jurisdictions.get(adapter.jurisdiction) if adapter.jurisdiction else None
            region = home.region if home else self.port_region(timetable, next(iter(timetable.ports)))
            self.by_id[adapter.id] = Carrier(
                adapter.id,
                adapter,
                timetable,
                region,
                tuple(adapter.manifest.personal_data),
                bool(adapter.manifest.remote),
            )

    def get(self, carrier_id: str) -> Carrier | None:
        return self.by_id.get(carrier_id)

    def port_region(self, timetable: Timetable, port: str) -> str:
        return str(self._jurisdictions[timetable.ports[port].jurisdiction].region)

    def recipient(self, carrier: Carrier) -> Recipient:
        return Recipient(carrier.id, carrier.timetable.name.en, carrier.region, carrier.personal_data)

    async def call(self, what: Awaitable[T]) -> T:
        """Run one carrier call with the configured timeout, turning its failures into ours."""
        try:
            return await asyncio.wait_for(what, self.timeout_seconds)
        except TimeoutError:
            raise CarrierTimeout() from None
        except CarrierRefused as exc:
            raise CarrierDeclined(exc.code) from None
        except PartnerError as exc:
            raise CarrierFailed(details=exc.details) from None


class Departures:
    """Materialises every carrier's timetable into departures and seats, and brings those
    already materialised up to date with it (`materialise`): a departure nobody holds a seat on
    takes the timetable's times, fares and seats, or goes when the timetable no longer has it;
    one with seats held or sold keeps what was bought (its fares change for the seats still on
    sale) and its riders are told what changed, once (`schedule_change` on their bookings)."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        carriers: Carriers,
        days_ahead: int,
        notifier: Callable[[], Notifier | None] = lambda: None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.carriers = carriers
        self.days_ahead = days_ahead
        self.notifier = notifier
        self.forget: list[Callable[[Iterable[str]], None]] = []  # caches of departures' static part

    async def materialise(self) -> int:
        """Bring the departures of the next `days_ahead` service days (carrier-local, from
        yesterday so that after-midnight runs of yesterday's service are there too) in line with
        the timetables; how many were added or changed."""
        now = self.clock.now()
        total = 0
        for carrier in self.carriers.by_id.values():
            tt = carrier.timetable
            start = tt.local_today(now) - timedelta(days=1)
            wanted = {
                d.id: _new_departure(tt, d)
                for d in tt.materialise(start, self.days_ahead + 1)
                if d.departs_at > now
            }
            async with self.db.acquire() as conn:
                existing = {d.id: d for d in await q.materialised(conn, carrier.id, now)}
            async with self.db.transaction() as conn:
                total += await q.insert_departures(conn, [d for i, d in wanted.items() if i not in existing])
            last_day = start + timedelta(days=self.days_ahead)
            changed = []
            for old in existing.values():
                new = wanted.get(old.id)
                if new is None and old.service_date > last_day:
                    continue  # beyond the days materialised (days_ahead shrank): left as it is
                if (
                    new is not None
                    and old.withdrawn_at is None
                    and _same(old, new)
                    and (old.schedule_change is None or _change(old, new, None) == old.schedule_change)
                ):
                    continue
                if new is None and old.withdrawn_at is not None:
                    continue
                if await self._bring_up_to_date(carrier, old, new, _next_run(wanted, old), now):
                    changed.append(old.id)
            total += len(changed)
            for forget in self.forget:
                forget(changed)
        return total

    async def _bring_up_to_date(
        self,
        carrier: Carrier,
        old: q.MaterialisedDeparture,
        new: q.NewDeparture | None,
        alternative: str | None,
        now: datetime,
    ) -> bool:
        """Apply the timetable to one departure under its seat rows' lock; tell its riders when
        what they booked changed. False when there was nothing to do after all."""
        async with self.db.transaction() as conn:
            taken = await q.lock_sales(conn, old.id)
            if taken is None:
                return False  # cancelled meanwhile
            change = _change(old, new, alternative) if taken else None
            if new is None and not taken and await q.delete_unbooked(conn, old.id):
                return True
            if new is None:
                await q.withdraw(conn, old.id, change, now)
            else:
                await q.retime(conn, new, change, now)
        if change is not None and change != old.schedule_change:
            await self._tell(old.id, change)
        return True

    async def _tell(self, departure_id: str, change: dict[str, Any]) -> None:
        notifier = self.notifier()
        if notifier is None:
            return
        async with self.db.acquire() as conn:
            riders = await bq.of_departure(conn, departure_id, ("held", "paying", "confirmed"))
        for row in riders:
            try:
                await notifier.send(_schedule_note(row.user_id, row.id, departure_id, change))
            except Exception:
                log.exception("booking %s: telling the rider of the timetable change failed", row.id)

    async def purge(self) -> int:
        async with self.db.acquire() as conn:
            return await q.purge_departed(conn, self.clock.now() - timedelta(days=2))


def _new_departure(tt: Timetable, d: Departure) -> q.NewDeparture:
    return q.NewDeparture(
        id=d.id,
        carrier=d.carrier,
        route=d.route,
        mode=tt.mode,
        origin=d.origin,
        destination=d.destination,
        service_date=d.service_date,
        departs_at=d.departs_at,
        arrives_at=d.arrives_at,
        currency=tt.currency,
        classes=[(c, d.capacity[c], m.amount) for c, m in sorted(d.fares.items())],
    )


def _same(old: q.MaterialisedDeparture, new: q.NewDeparture) -> bool:
    return (old.origin, old.destination, old.departs_at, old.arrives_at, old.classes) == (
        new.origin,
        new.destination,
        new.departs_at,
        new.arrives_at,
        tuple(new.classes),
    )


def _next_run(wanted: Mapping[str, q.NewDeparture], old: q.MaterialisedDeparture) -> str | None:
    """The route's next run after `old` in the new timetable: where its riders may go instead."""
    later = [d for d in wanted.values() if d.route == old.route and d.departs_at > old.departs_at]
    return min(later, key=lambda d: (d.departs_at, d.id)).id if later else None


def _change(
    old: q.MaterialisedDeparture, new: q.NewDeparture | None, alternative: str | None
) -> dict[str, Any] | None:
    """What the riders of a departure with sales are told: it left the timetable (`withdrawn`,
    with the route's next run), or it arrives at another time (`retimed`); None when what they
    booked stands (the timetable came back to it, or only fares or seats changed)."""
    booked = (old.schedule_change or {}).get("booked_arrives_at") or old.arrives_at.isoformat()
    if new is None:
        return {
            "kind": "withdrawn",
            "departs_at": None,
            "arrives_at": None,
            "booked_arrives_at": booked,
            "alternative": alternative,
        }
    if new.arrives_at == datetime.fromisoformat(booked) and new.departs_at == old.departs_at:
        return None
    return {
        "kind": "retimed",
        "departs_at": new.departs_at.isoformat(),
        "arrives_at": new.arrives_at.isoformat(),
        "booked_arrives_at": booked,
        "alternative": None,
    }


def _schedule_note(user_id: str, booking_id: str, departure_id: str, change: dict[str, Any]) -> Notification:
    if change["kind"] == "withdrawn":
        subject = Text("Your departure left the timetable", "班次已從時刻表取消", "班次已从时刻表取消")
        en = f"{departure_id} is no longer in the carrier's timetable. Booking {booking_id} stands;"
        zh = f"{departure_id} 已不在承運商的時刻表內。訂單 {booking_id} 仍然有效;"
        zs = f"{departure_id} 已不在承运商的时刻表内。订单 {booking_id} 仍然有效;"
        body = Text(
            en + " you may cancel it in the app.",
            zh + "你可在應用程式內取消。",
            zs + "你可在应用程序内取消。",
        )
    else:
        at = change["arrives_at"]
        subject = Text("Your departure's times changed", "你的班次時間有變", "你的班次时间有变")
        body = Text(
            f"{departure_id} now arrives at {at}. Booking {booking_id} stands.",
            f"{departure_id} 現於 {at} 抵達。訂單 {booking_id} 仍然有效。",
            f"{departure_id} 现于 {at} 抵达。订单 {booking_id} 仍然有效。",
        )
    return Notification(
        recipient=user_id,
        channel="app",
        subject=subject,
        body=body,
        dedupe_key=f"schedule_change:{booking_id}:{change['kind']}:{change['arrives_at'] or ''}",
    )


def local_day_bounds(tt: Timetable, day: Any) -> tuple[datetime, datetime]:
    start = datetime.combine(day, datetime.min.time(), tt.zone)
    return start, start + timedelta(days=1)
