"""Which travel documents a passenger may cross a border with (config `[travel.crossings]`).

Pure: given the crossing (legal region of origin and destination ports), the passenger's
document and the local travel date, say why the document does not do, or nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from bayaffairs.config.settings import CrossingRule

RESIDENT_ISSUERS = ("CN", "HK", "MO")


@dataclass(frozen=True)
class TravelDocument:
    id: str
    type: str
    issuing: str
    expires: date
    endorsements: Sequence[tuple[str, str, date]] = ()  # (type, destination, valid until)


def refusal(
    crossings: Mapping[str, CrossingRule], origin: str, destination: str, doc: TravelDocument, travel: date
) -> str | None:
    """A stable reason why `doc` cannot cross `origin -> destination` on `travel`, else None."""
    rule = crossings.get(f"{origin}->{destination}")
    if rule is None:
        return "crossing_not_supported"
    if doc.type not in rule.accept:
        return f"{doc.type}_not_accepted_for_{origin.lower()}_to_{destination.lower()}"
    if doc.type == "passport" and rule.passport_foreign_only and doc.issuing in RESIDENT_ISSUERS:
        return f"residents_of_{doc.issuing.lower()}_need_their_permit_not_a_passport"
    if doc.expires < travel:
        return "document_expires_before_travel"
    if doc.type in rule.endorsement and not any(
        dest == destination and until >= travel for _type, dest, until in doc.endorsements
    ):
        return f"no_valid_endorsement_for_{destination.lower()}"
    return None
