"""TurboJET, the Sheung Wan - Macao ferry: a remote border carrier with seats of its own.

Timetable, fares and refund tiers are ours, from config (`TimetableSettings`); the seats are
counted in our database and again at the carrier, whose booking API (`client.py`, modelled in
README.md) each verb calls. Every call is idempotent per our booking reference, so the caller
can retry a verb that timed out and reach the same hold or booking. A carrier that is down,
slow or answers garbage raises `PartnerError`; a carrier that says no raises `CarrierRefused`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Mapping, Sequence
from functools import cached_property
from typing import Any, TypeVar

from marshmallow import fields, validate

from bayaffairs.adapters.protocols import (
    CarrierConfirmation,
    CarrierHold,
    CarrierHoldRequest,
    CarrierPassenger,
    CarrierRefused,
)
from bayaffairs.integrations.remote import CallError, RemotePartner, timeout_field
from bayaffairs.integrations.turbojet.client import TurboJetClient
from bayaffairs.travel.configured import ConfiguredCarrier
from bayaffairs.travel.timetable import TimetableSettings

log = logging.getLogger(__name__)

T = TypeVar("T")


class Settings(TimetableSettings):
    """The carrier's timetable (keys: bayaffairs/travel/timetable.py) and its booking API."""

    class Meta:
        unknown = "raise"

    base_url = fields.Url(required=True, require_tld=False)
    api_key = fields.String(required=True, validate=validate.Length(min=1))
    timeout_seconds = timeout_field()


class TurboJet(RemotePartner, ConfiguredCarrier):
    Settings = Settings

    def describe(self) -> Mapping[str, Any]:
        return {**super().describe(), "remote": True}

    @cached_property
    def client(self) -> TurboJetClient:
        s = self.settings
        return TurboJetClient(self.http, s["base_url"], s["api_key"], self.timeout_seconds)

    async def availability(self, departure: str) -> Mapping[str, int]:
        """Seats the carrier still sells on a departure, per fare class (not part of the
        protocol: for reconciling our inventory with the carrier's)."""
        return await self._call("availability", self.client.availability(departure))

    async def hold(self, request: CarrierHoldRequest) -> CarrierHold:
        """The carrier's hold id and its own expiry, which may be earlier than the one asked for."""
        held = await self._call(
            "hold",
            self.client.hold(
                request.reference, request.departure, request.fare_class, request.seats, request.expires_at
            ),
        )
        return CarrierHold(carrier_reference=held.hold_id, expires_at=held.expires_at)

    async def confirm(self, reference: str, passengers: Sequence[CarrierPassenger]) -> CarrierConfirmation:
        """Sends each passenger's declared fields only (the manifest's `personal_data`), even if
        the caller handed over more."""
        declared = self.manifest.personal_data
        manifest = [
            {"passenger_id": p.passenger_id, **{k: v for k, v in p.fields.items() if k in declared}}
            for p in passengers
        ]
        booking_id = await self._call("confirm", self.client.confirm(reference, manifest))
        return CarrierConfirmation(carrier_reference=booking_id)

    async def release(self, reference: str) -> None:
        await self._call("release", self.client.release(reference))

    async def cancel(self, reference: str) -> None:
        await self._call("cancel", self.client.cancel(reference))

    async def cancel_passengers(self, reference: str, passenger_ids: Sequence[str]) -> None:
        for passenger_id in passenger_ids:
            await self._call("cancel_passengers", self.client.cancel_passenger(reference, passenger_id))

    async def _call(self, verb: str, call: Awaitable[T]) -> T:
        try:
            return await call
        except CallError as exc:
            raise self.failure(f"{verb}: {exc}") from exc
        except CarrierRefused as exc:
            log.info("%s %s refused: %s", self.id, verb, exc.code)
            raise
