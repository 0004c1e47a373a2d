"""A counter agency described by its config block; its bookings live only in our database."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any

from bayaffairs.adapters.base import Adapter
from bayaffairs.adapters.protocols import AgencyEvent
from bayaffairs.appointments.catalog import AgencySettings, build_agency, describe
from bayaffairs.appointments.model import Agency
from bayaffairs.i18n import Text


class CounterAgencyAdapter(Adapter):
    kind = "counter_agency"
    Settings = AgencySettings

    @property
    def name(self) -> Text:
        return self.settings["name"]

    def describe(self) -> Mapping[str, Any]:
        return describe(self.catalog(), self.settings["demo"])

    def catalog(self) -> Agency:
        return self._agency

    @cached_property
    def _agency(self) -> Agency:
        return build_agency(
            self.id, self.jurisdiction, self.manifest.remote, self.manifest.personal_data, self.settings
        )

    async def push(self, event: AgencyEvent) -> str:
        """Nothing to tell: the agency's staff work from our counter API."""
        return ""
