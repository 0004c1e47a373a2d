"""The border carriers enabled in config, their timetables, and departures materialised
from them into the database for the days ahead (idempotent: run at start and daily)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from bayaffairs.adapters.protocols import BorderCarrier, CarrierRefused
from bayaffairs.clock import Clock
from bayaffairs.config.regions import Jurisdiction
from bayaffairs.db.queries import travel as q
from bayaffairs.errors import PartnerError
from bayaffairs.storage import Database
from bayaffairs.transfers import Recipient
from bayaffairs.travel.errors import CarrierDeclined, CarrierFailed, CarrierTimeout
from bayaffairs.travel.timetable import Timetable

T = TypeVar("T")


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
    """Materialises every carrier's timetable into departures and seats."""

    def __init__(self, db: Database, clock: Clock, carriers: Carriers, days_ahead: int) -> None:
        self.db = db
        self.clock = clock
        self.carriers = carriers
        self.days_ahead = days_ahead

    async def materialise(self) -> int:
        """Insert the departures of the next `days_ahead` service days (carrier-local, from
        yesterday so that after-midnight runs of yesterday's service are there too)."""
        now = self.clock.now()
        total = 0
        for carrier in self.carriers.by_id.values():
            tt = carrier.timetable
            start = tt.local_today(now) - timedelta(days=1)
            rows = [
                q.NewDeparture(
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
                    classes=[(c, d.capacity[c], m.amount) for c, m in d.fares.items()],
                )
                for d in tt.materialise(start, self.days_ahead + 1)
                if d.departs_at > now
            ]
            async with self.db.transaction() as conn:
                total += await q.insert_departures(conn, rows)
        return total

    async def purge(self) -> int:
        async with self.db.acquire() as conn:
            return await q.purge_departed(conn, self.clock.now() - timedelta(days=2))


def local_day_bounds(tt: Timetable, day: Any) -> tuple[datetime, datetime]:
    start = datetime.combine(day, datetime.min.time(), tt.zone)
    return start, start + timedelta(days=1)
