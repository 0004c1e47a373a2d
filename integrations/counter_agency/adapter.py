"""A counter agency described by its config block; its bookings live only in our database."""

from __future__ import annotations

from bayaffairs.adapters.protocols import AgencyEvent
from bayaffairs.appointments.agency_settings import ConfiguredAgency


class CounterAgencyAdapter(ConfiguredAgency):
    async def push(self, event: AgencyEvent) -> str:
        """Nothing to tell: the agency's staff work from our counter API."""
        return ""
