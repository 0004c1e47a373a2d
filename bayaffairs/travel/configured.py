"""The bases of carrier adapters whose timetable, fares and refund rules are their config block.

`ConfiguredCarrier` loads the block with `TimetableSettings` (a subclass may add the carrier's
connection) and answers `timetable()` and `describe()` from it; the booking verbs are left to
the subclass. `LocalCarrier` is a carrier whose seats live only in our database: its verbs have
nothing to tell the carrier and return at once. A remote carrier (integrations/turbojet)
extends `ConfiguredCarrier` and `RemotePartner` and calls its carrier's API in each verb.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any

from bayaffairs.adapters.protocols import (
    BorderCarrier,
    CarrierConfirmation,
    CarrierHold,
    CarrierHoldRequest,
    CarrierPassenger,
)
from bayaffairs.travel.timetable import Timetable, TimetableSettings


class ConfiguredCarrier(BorderCarrier):
    Settings = TimetableSettings

    def describe(self) -> Mapping[str, Any]:
        return self._timetable.describe()

    def timetable(self) -> Timetable:
        return self._timetable

    @cached_property
    def _timetable(self) -> Timetable:
        return Timetable.from_settings(self.id, self.settings)


class LocalCarrier(ConfiguredCarrier):
    """Seats counted only in our database: the hold is ours, the references are our booking's."""

    async def hold(self, request: CarrierHoldRequest) -> CarrierHold:
        return CarrierHold(carrier_reference=request.reference, expires_at=request.expires_at)

    async def confirm(self, reference: str, passengers: Sequence[CarrierPassenger]) -> CarrierConfirmation:
        return CarrierConfirmation(carrier_reference=reference)

    async def release(self, reference: str) -> None:
        return None

    async def cancel(self, reference: str) -> None:
        return None

    async def cancel_passengers(self, reference: str, passenger_ids: Sequence[str]) -> None:
        return None
