"""Who receives riders' personal data, by the id the transfer records and access log keep:
a carrier, an agency or a service centre, with its name in three languages and the contact
its config block declares (`privacy_contact`), which PIPL art. 39 asks to disclose."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bayaffairs.appointments.catalogue import Catalogue
from bayaffairs.config.regions import AdapterBlock, Contact
from bayaffairs.i18n import Text
from bayaffairs.travel.carriers import Carriers


@dataclass(frozen=True)
class RecipientInfo:
    id: str
    name: Text
    region: str | None
    contact: Contact | None


class RecipientDirectory:
    def __init__(self, entries: Iterable[RecipientInfo]) -> None:
        self._by_id = {e.id: e for e in entries}

    def get(self, recipient_id: str) -> RecipientInfo | None:
        return self._by_id.get(recipient_id)

    def name(self, recipient_id: str, language: str, fallback: str | None = None) -> str | None:
        """The recipient's name in `language`; `fallback` (the name recorded at the time) for
        one no longer configured."""
        info = self._by_id.get(recipient_id)
        return info.name.get(language) if info else fallback


def recipient_directory(
    carriers: Carriers, catalogue: Catalogue, blocks: Iterable[AdapterBlock]
) -> RecipientDirectory:
    """Carriers and agencies by their adapter instance id, and each service centre (a counter's
    reader id) with its agency's contact."""
    contacts = {b.instance: b.privacy_contact for b in blocks if b.enabled}
    entries = [
        RecipientInfo(c.id, c.timetable.name, c.region, contacts.get(c.id)) for c in carriers.by_id.values()
    ]
    for agency in catalogue.agencies.values():
        contact = contacts.get(agency.id)
        entries.append(RecipientInfo(agency.id, agency.name, agency.region, contact))
        entries += [RecipientInfo(c.id, c.name, c.staff_region, contact) for c in agency.centres.values()]
    return RecipientDirectory(entries)
