"""The values of the appointment domain: agencies' services, centres, counters, appointments."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from typing import Literal, get_args
from zoneinfo import ZoneInfo

from bayaffairs.i18n import Text

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
AppointmentStatus = Literal["booked", "checked_in", "called", "served", "no_show", "cancelled", "rescheduled"]
STATUSES: tuple[AppointmentStatus, ...] = get_args(AppointmentStatus)
ACTIVE: tuple[AppointmentStatus, ...] = ("booked", "checked_in", "called")  # holding a seat


@dataclass(frozen=True)
class Service:
    """A counter service of one agency. `id_documents` are the identity documents accepted for
    it; `required_documents` is the paperwork to bring (shown to the rider)."""

    id: str
    agency_id: str
    jurisdiction: str
    name: Text
    duration_minutes: int
    id_documents: tuple[str, ...]
    required_documents: tuple[Text, ...]
    min_days_ahead: int
    max_days_ahead: int
    per_rider_limit: int  # active appointments of one account for this service
    # Per department and person (by document): at most this many appointments on one day of the
    # centre's calendar, and in one calendar week (Monday to Sunday); None: no such limit.
    department: str = ""  # "" is the agency itself
    quota_per_day: int | None = None
    quota_per_week: int | None = None

    @property
    def quota_department(self) -> str:
        return self.department or self.agency_id


@dataclass(frozen=True)
class Counter:
    id: str
    services: frozenset[str]


LATE_ARRIVALS = ("end_of_queue", "refused")


@dataclass(frozen=True)
class QueueRules:
    """How a centre's queue treats arrival times. People checked in are called in the order of
    their appointment time, from `early_minutes` before it; someone arriving more than
    `late_grace_minutes` after it goes to the end of the queue or is refused (`late_arrivals`),
    and cannot be recorded as a no-show before then."""

    early_minutes: int = 30
    late_grace_minutes: int = 10
    late_arrivals: str = "end_of_queue"


@dataclass(frozen=True)
class Centre:
    id: str
    agency_id: str
    name: Text
    address: Text
    region: str  # legal region the centre is in (CN, HK, MO)
    city: str | None
    time_zone: str
    reference_prefix: str
    hours: Mapping[int, tuple[tuple[time, time], ...]]  # weekday (0 = Monday) -> opening intervals
    closed_days: frozenset[date]
    counters: tuple[Counter, ...]
    queue: QueueRules = field(default_factory=QueueRules)
    # The applicant's personal data stays in this region (Macao -> Hengqin, gba.md): nothing is
    # transferred to the centre and no consent is asked; its desks see the reference, service,
    # time and status, and check the person by the signed QR and the physical document.
    data_stays_in: str | None = None
    # A remote video counter: the staff serve by video from this region (Hengqin's counters in
    # Macao, gba.md), so the applicant's data and the desk's reading of it are there.
    served_from: str | None = None
    # A self-service kiosk (walk-up machines, no desks, no slots): the services it offers.
    kiosk_services: frozenset[str] | None = None
    # Ids of centres this one took the place of without their appointments (a desk that became a
    # kiosk): the place those appointments are read at (`Catalogue.home`).
    replaces: frozenset[str] = frozenset()

    @property
    def kiosk(self) -> bool:
        return self.kiosk_services is not None

    @property
    def staff_region(self) -> str:
        """Where the people serving at its desks are: where the applicant's data goes."""
        return self.served_from or self.region

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def capacity(self, service_id: str) -> int:
        """How many people can be served at once: the counters that serve the service."""
        return sum(1 for c in self.counters if service_id in c.services)

    def serves(self, service_id: str) -> bool:
        return self.capacity(service_id) > 0

    def counter(self, counter_id: str) -> Counter | None:
        return next((c for c in self.counters if c.id == counter_id), None)


@dataclass(frozen=True)
class Agency:
    id: str
    name: Text
    jurisdiction: str
    region: str
    remote: bool
    personal_data: tuple[str, ...]
    reminder_lead_minutes: int
    notifier: str | None
    # A cancelled appointment's seat is held this long before anyone may book it (0: freed at once).
    cancellation_cooldown_minutes: int = 30
    services: Mapping[str, Service] = field(default_factory=dict)
    centres: Mapping[str, Centre] = field(default_factory=dict)


@dataclass(frozen=True)
class Slot:
    start: datetime
    end: datetime
    capacity: int
    remaining: int


@dataclass(frozen=True)
class Appointment:
    id: str
    reference: str
    user_id: str | None  # None: a walk-in
    agency_id: str
    centre_id: str
    service_id: str
    start: datetime
    end: datetime
    local_date: date
    counter_id: str | None  # the desk its time is reserved on (None: holds no desk)
    status: AppointmentStatus
    document_id: str | None
    holder_name: str
    number_masked: str | None
    qr_version: int
    rescheduled_from: str | None
    rescheduled_to: str | None
    queue_number: int | None
    checked_in_at: datetime | None
    call_count: int
    called_at: datetime | None
    called_by: str | None
    finished_at: datetime | None
    created_at: datetime
    updated_at: datetime
    change_seq: int
    walk_in: bool = False  # someone without an appointment, given a queue number at the desk
    cancel_reason: str | None = None  # why it was cancelled, when not by the rider (an agency refused it)
    # The rider's language for notices about it (en, zh-Hant, zh-Hans); None: booked before
    # languages were kept, its notices use the centre's default (`Catalogue.notice_language`).
    language: str | None = None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    def in_zone(self, zone: ZoneInfo) -> Appointment:
        """The same appointment with its instants as wall times of `zone` (the centre's), as
        riders and counters read them; the instants themselves do not change."""
        return replace(
            self,
            start=self.start.astimezone(zone),
            end=self.end.astimezone(zone),
            checked_in_at=self.checked_in_at and self.checked_in_at.astimezone(zone),
            called_at=self.called_at and self.called_at.astimezone(zone),
            finished_at=self.finished_at and self.finished_at.astimezone(zone),
            created_at=self.created_at.astimezone(zone),
            updated_at=self.updated_at.astimezone(zone),
        )


# One appointment as a counter's day list shows it: id, reference, service_id, start, end, status,
# holder_name, number_masked, queue_number, call_count, called_by, walk_in, change (the change
# number, last). A plain tuple: a centre-day is thousands of rows, read straight from the query
# into the answer.
DayRow = tuple[
    str, str, str, datetime, datetime, str, str, str | None, int | None, int, str | None, bool, int
]
