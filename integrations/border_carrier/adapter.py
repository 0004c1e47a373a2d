"""A border carrier whose seats live only in our database.

One adapter serves every local rail, coach, ferry and bridge-shuttle carrier: what differs
between them is data, validated by `TimetableSettings`. The booking verbs have nothing to tell
the carrier, so they return at once (`LocalCarrier`); a remote carrier (integrations/turbojet)
calls its API.
"""

from __future__ import annotations

from bayaffairs.travel.configured import LocalCarrier


class BorderCarrierAdapter(LocalCarrier):
    """A local carrier: its config block is all there is to it."""
