"""How long to wait before trying a partner again: doubling from a first wait, up to a ceiling.

Used by every retry the service schedules itself (the agency outbox, failed refunds), so they
all back off the same way.
"""

from __future__ import annotations

from datetime import timedelta

_MAX_DOUBLINGS = 40  # past any sensible ceiling, and far from timedelta's overflow


def doubling(first: timedelta, attempts: int, ceiling: timedelta) -> timedelta:
    """The wait after `attempts` failed tries: `first` after one, twice that after two, ...,
    never more than `ceiling`."""
    return min(first * 2.0 ** min(attempts - 1, _MAX_DOUBLINGS), ceiling)
