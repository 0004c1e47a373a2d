"""A border carrier whose seats live only in our database.

One adapter serves every local rail, coach, ferry and bridge-shuttle carrier: what differs
between them is data, validated by `TimetableSettings`. The booking verbs have nothing to tell
the carrier, so they return at once; a remote carrier (integrations/turbojet) calls its API.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any

from bayaffairs.adapters.base import Adapter
from bayaffairs.adapters.protocols import (
    CarrierConfirmation,
    CarrierHold,
    CarrierHoldRequest,
    CarrierPassenger,
)
from bayaffairs.i18n import Text
from bayaffairs.travel.timetable import Timetable, TimetableSettings


class BorderCarrierAdapter(Adapter):
    kind = "border_carrier"
    Settings = TimetableSettings

    @property
    def name(self) -> Text:
        """The carrier's own name, not the adapter's."""
        return self.settings["name"]

    def describe(self) -> Mapping[str, Any]:
        return self._timetable.describe()

    def timetable(self) -> Timetable:
        return self._timetable

    @cached_property
    def _timetable(self) -> Timetable:
        return Timetable.from_settings(self.id, self.settings)

    async def hold(self, request: CarrierHoldRequest) -> CarrierHold:
        return CarrierHold(carrier_reference=request.reference, expires_at=request.expires_at)

    async def confirm(self, reference: str, passengers: Sequence[CarrierPassenger]) -> CarrierConfirmation:
        return CarrierConfirmation(carrier_reference=reference)

    async def release(self, reference: str) -> None:
        return None

    async def cancel(self, reference: str) -> None:
        return None
