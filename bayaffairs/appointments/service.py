"""Everything appointments, built once per app from the enabled agency adapters."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from bayaffairs.adapters.protocols import CounterAgency, Notifier
from bayaffairs.appointments import ics as ics_file
from bayaffairs.appointments.blocks import CounterBlocks
from bayaffairs.appointments.booking import AppointmentService
from bayaffairs.appointments.catalogue import Catalogue
from bayaffairs.appointments.changes import ChangeNumbers
from bayaffairs.appointments.day_cache import DayBodies
from bayaffairs.appointments.desk import CounterDesk
from bayaffairs.appointments.display import HallDisplay
from bayaffairs.appointments.jobs import AgencyOutbox, Reminders
from bayaffairs.appointments.notices import Notices
from bayaffairs.appointments.qr import AppointmentKeys
from bayaffairs.clock import Clock
from bayaffairs.documents.service import DocumentService
from bayaffairs.signing.keys import IssuerKeys
from bayaffairs.storage import Database


@dataclass
class Appointments:
    catalogue: Catalogue
    booking: AppointmentService
    desk: CounterDesk
    blocks: CounterBlocks
    reminders: Reminders
    notices: Notices
    outbox: AgencyOutbox
    display: HallDisplay
    changes: ChangeNumbers  # the centres' change numbers, kept while this worker listens
    host: str = "bayaffairs"
    day_bodies: DayBodies = field(default_factory=DayBodies)  # counters' encoded full days

    async def ics(self, user_id: str, appointment_id: str, language: str) -> str:
        appointment = await self.booking.get(user_id, appointment_id)
        centre = self.catalogue.home(appointment.centre_id)
        service = self.catalogue.service(appointment.service_id)
        return ics_file.calendar(appointment, centre, service, language, self.booking.clock.now(), self.host)


def build_appointments(
    db: Database,
    clock: Clock,
    agencies: Iterable[CounterAgency],
    issuer_keys: IssuerKeys,
    documents: DocumentService,
    notifier: Callable[[str], Notifier | None],
    host: str = "bayaffairs",
    languages: Mapping[str, str] | None = None,
) -> Appointments:
    """`agencies`: the enabled counter_agency adapters; `notifier`: instance id -> adapter;
    `languages`: jurisdiction id -> its default language (`Catalogue`)."""
    adapters = {a.id: a for a in agencies}
    catalogue = Catalogue(
        (a.catalog() for a in adapters.values()),
        demo=[a.id for a in adapters.values() if a.settings.get("demo")],
        languages=languages,
    )
    keys = AppointmentKeys(issuer_keys)
    notices = Notices(db, clock, notifier)
    changes = ChangeNumbers(db)
    return Appointments(
        catalogue=catalogue,
        booking=AppointmentService(db, clock, catalogue, keys, documents, changes),
        desk=CounterDesk(db, clock, catalogue, keys, changes, documents.cipher.fingerprints),
        blocks=CounterBlocks(db, clock, catalogue),
        reminders=Reminders(db, clock, catalogue, notifier, notices),
        notices=notices,
        outbox=AgencyOutbox(db, clock, adapters.get, catalogue, changes=changes),
        display=HallDisplay(db, clock, catalogue, changes),
        changes=changes,
        host=host,
    )
