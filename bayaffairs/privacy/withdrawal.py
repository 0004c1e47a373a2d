"""What a consent's withdrawal leaves behind: the data already sent to that destination.

Withdrawing stops every future transfer at once (`transfers.plan` finds no active consent), but
it cannot call back what was sent: the recipients hold it under their own retention (the GBA
standard contract: at least three years). So the answer lists, per recipient, what went there
(whose data, which fields, for which bookings or appointments, when) with the recipient's
contact, which is where the rider asks for it to be corrected or deleted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from bayaffairs.db.queries.data_transfers import TransferRow
from bayaffairs.i18n import Text

DESTINATION_NAMES = {
    "CN": Text("the mainland", "內地", "内地"),
    "HK": Text("Hong Kong", "香港", "香港"),
    "MO": Text("Macao", "澳門", "澳门"),
}
NOTICE = Text(
    "Nothing more will be sent to {destination} on this consent. What was sent before stays with "
    "the recipients below, who keep it under their own rules; to see, correct or delete it, "
    "contact them.",
    "此後不會再根據此同意向{destination}傳送任何資料。先前已傳送的資料仍由下列接收方按其規則保存;"
    "如需查閱、更正或刪除,請聯絡他們。",
    "此后不会再根据此同意向{destination}传送任何资料。先前已传送的资料仍由下列接收方按其规则保存;"
    "如需查阅、更正或删除,请联系他们。",
)


@dataclass(frozen=True)
class SentTo:
    """Everything of the rider's that went to one recipient in the destination."""

    recipient: str
    recipient_name: str  # as recorded when sent
    destination: str
    purposes: tuple[str, ...]
    fields: tuple[str, ...]
    subjects: tuple[str, ...]  # whose data: the holders' names
    references: tuple[str, ...]  # the bookings and appointments it served
    transfers: int
    first_sent_at: datetime
    last_sent_at: datetime


def sent_to(records: Sequence[TransferRow]) -> list[SentTo]:
    """The records grouped by recipient, the most recently used first."""
    groups: dict[str, list[TransferRow]] = {}
    for record in sorted(records, key=lambda r: (r.transferred_at, r.id)):
        groups.setdefault(record.recipient, []).append(record)
    out = [
        SentTo(
            recipient=recipient,
            recipient_name=rows[-1].recipient_name,
            destination=rows[-1].destination,
            purposes=_distinct(r.purpose for r in rows),
            fields=_distinct(f for r in rows for f in r.fields),
            subjects=_distinct(r.subject_name for r in rows),
            references=_distinct(r.reference for r in rows),
            transfers=len(rows),
            first_sent_at=rows[0].transferred_at,
            last_sent_at=rows[-1].transferred_at,
        )
        for recipient, rows in groups.items()
    ]
    return sorted(out, key=lambda s: s.last_sent_at, reverse=True)


def notice(destination: str, language: str) -> str:
    name = DESTINATION_NAMES.get(destination)
    return NOTICE.get(language).format(destination=name.get(language) if name else destination)


def _distinct(values: Iterable[str]) -> tuple[str, ...]:
    """In first-seen order."""
    return tuple(dict.fromkeys(values))
