"""Which travel documents a passenger may cross a border with: the rule table of config
`[travel.crossings]` (per crossing, the document types that cross and who may hold them) and
`[travel.entry]` (what a foreign passport needs to enter a region), shown in docs/travel.md.

Pure: given the crossing (legal regions of the origin and destination ports, whether the
destination is airside, the control point, the travel date and arrival time), the passenger's
document and their onward flight, say why the document does not do, or nothing.

A document's holder is the region whose resident carries it: a Home Return Permit is issued by
the mainland to Hong Kong (`H...`) and Macao (`M...`) residents; a passport is its issuing
country's, `foreign` unless CN, HK or MO; every other type is its issuer's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bayaffairs.config.settings import DocumentRule, EntryRule, TravelSettings
from bayaffairs.documents.rules import ISSUER_OF

RESIDENT_REGIONS = ("CN", "HK", "MO")
FOREIGN = "foreign"
VISA = "V"


@dataclass(frozen=True)
class TravelDocument:
    id: str
    type: str
    issuing: str
    expires: date
    number_masked: str
    endorsements: Sequence[tuple[str, str, date, int | None]] = ()  # (type, destination, expires, entries)

    @property
    def holder(self) -> str:
        """CN, HK, MO, or `foreign` (a passport of another country)."""
        if self.type == "home_return_permit":
            return "MO" if self.number_masked.startswith("M") else "HK"
        if self.type == "passport":
            return self.issuing if self.issuing in RESIDENT_REGIONS else FOREIGN
        return ISSUER_OF.get(self.type, self.issuing)


@dataclass(frozen=True)
class Crossing:
    origin: str  # legal region of the origin port
    destination: str
    airside: bool  # the destination port is airside (SkyPier): no entry there
    control_point: str
    travel_day: date  # local date of departure
    arrives_at: datetime

    @property
    def key(self) -> str:
        return f"{self.origin}->{self.destination}" + (":airside" if self.airside else "")


@dataclass(frozen=True)
class OnwardFlight:
    number: str
    departs_at: datetime


def refusal(
    settings: TravelSettings, crossing: Crossing, doc: TravelDocument, onward: OnwardFlight | None
) -> str | None:
    """A stable reason why `doc` cannot make `crossing`, else None."""
    rule = settings.crossings.get(crossing.key)
    if rule is None:
        return "crossing_not_supported"
    where = crossing.key.lower().replace("->", "_to_").replace(":", "_")
    rows = [r for r in rule.documents if r.document == doc.type]
    if not rows:
        return f"{doc.type}_not_accepted_for_{where}"
    row = next((r for r in rows if not r.holders or doc.holder in r.holders), None)
    if row is None:
        if doc.type == "passport" and doc.holder != FOREIGN:
            return f"residents_of_{doc.holder.lower()}_need_their_permit_not_a_passport"
        return f"{doc.type}_of_{doc.holder.lower()}_residents_not_accepted_for_{where}"
    if doc.expires < crossing.travel_day:
        return "document_expires_before_travel"
    if rule.onward_flight_hours is not None:
        return _onward(onward, crossing.arrives_at, rule.onward_flight_hours)
    if row.endorsement:
        return _endorsed(doc, row, crossing)
    if doc.type == "passport" and doc.holder == FOREIGN:
        return _entry(settings.entry.get(crossing.destination), doc, crossing, onward)
    return None


def _onward(onward: OnwardFlight | None, arrives_at: datetime, hours: int) -> str | None:
    if onward is None:
        return "onward_flight_required"
    if not arrives_at < onward.departs_at <= arrives_at + timedelta(hours=hours):
        return f"onward_flight_not_within_{hours}_hours"
    return None


def _valid(
    doc: TravelDocument, types: Sequence[str], crossing: Crossing
) -> list[tuple[str, str, date, int | None]]:
    return [
        e
        for e in doc.endorsements
        if e[0] in types and e[1] == crossing.destination and e[2] >= crossing.travel_day
    ]


def _endorsed(doc: TravelDocument, row: DocumentRule, crossing: Crossing) -> str | None:
    """An endorsement of an accepted type for the destination, valid on the travel date, with
    entries left (None: multiple entries)."""
    valid = _valid(doc, row.endorsement, crossing)
    destination = crossing.destination.lower()
    if not valid:
        return f"no_valid_endorsement_for_{destination}"
    if all(entries is not None and entries <= 0 for *_, entries in valid):
        return f"no_entries_left_on_endorsement_for_{destination}"
    return None


def _entry(
    entry: EntryRule | None, doc: TravelDocument, crossing: Crossing, onward: OnwardFlight | None
) -> str | None:
    """A foreign passport enters with a visa (a `V` endorsement for the destination), as a
    visa-free visitor, or (where configured) in transit with an onward flight in time."""
    refused = f"visa_required_for_{crossing.destination.lower()}"
    if any(entries is None or entries > 0 for *_, entries in _valid(doc, (VISA,), crossing)):
        return None
    if entry is None:
        return refused
    if entry.visa_free_days.get(doc.issuing, 0) > 0:
        return None
    transit = (
        entry.transit_hours > 0
        and doc.issuing in entry.transit_countries
        and crossing.control_point in entry.transit_control_points
    )
    if transit and _onward(onward, crossing.arrives_at, entry.transit_hours) is None:
        return None
    return refused
