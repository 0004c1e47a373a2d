"""Adding, listing and deleting a rider's documents."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from bayaffairs.clock import Clock
from bayaffairs.db.queries import access_log as access_q
from bayaffairs.db.queries import documents as q
from bayaffairs.documents import rules
from bayaffairs.documents.cipher import DocumentCipher
from bayaffairs.errors import Conflict, InvalidInput, NotFound
from bayaffairs.ids import new_id
from bayaffairs.pages import Page
from bayaffairs.privacy.access import Access
from bayaffairs.storage import Database

# Documents are judged valid by the Bay Area's calendar (all of it is UTC+8).
_BAY_AREA = timezone(timedelta(hours=8))


@dataclass(frozen=True)
class Endorsement:
    """An endorsement on an Exit-Entry Permit (G individual, L group, T family, S business, ...)
    or a visa on a passport (`V`): for one destination, until `expires`, with `entries` left
    (None: multiple entries)."""

    type: str
    destination: str
    expires: date
    entries: int | None = None


@dataclass(frozen=True)
class NewDocument:
    type: str
    holder_name: str
    number: str
    issuing: str
    expires: date
    date_of_birth: date | None = None
    endorsements: Sequence[Endorsement] = field(default_factory=tuple)
    holder: str = "self"  # or `other`: a family member's, whose data goes abroad on their consent


@dataclass(frozen=True)
class Document:
    id: str
    type: str
    holder_name: str
    number_masked: str
    issuing: str
    expires: date
    date_of_birth: date | None
    endorsements: tuple[Endorsement, ...]
    created_at: datetime
    fingerprint: bytes = b""  # keyed HMAC of type and number: the same document, whoever holds it
    holder: str = "self"  # the rider's own, or `other`: a family member's


def _document(row: q.DocumentRow) -> Document:
    return Document(
        id=row.id,
        type=row.type,
        holder_name=row.holder_name,
        number_masked=row.number_masked,
        issuing=row.issuing,
        expires=row.expires,
        date_of_birth=row.date_of_birth,
        endorsements=tuple(
            Endorsement(e["type"], e["destination"], date.fromisoformat(e["expires"]), e.get("entries"))
            for e in row.endorsements
        ),
        created_at=row.created_at,
        fingerprint=bytes(row.number_fingerprint),
        holder=row.holder,
    )


@dataclass
class Refingerprinted:
    """What `refingerprint` did: documents read, fingerprints changed, documents left as they
    were (`duplicates`), appointments and passengers whose copies changed."""

    documents: int = 0
    changed: int = 0
    duplicates: int = 0
    appointments: int = 0
    passengers: int = 0


def _aad(user_id: str, document_id: str, doc_type: str) -> str:
    return f"{user_id}|{document_id}|{doc_type}"


class DocumentService:
    def __init__(self, db: Database, clock: Clock, cipher: DocumentCipher) -> None:
        self.db = db
        self.clock = clock
        self.cipher = cipher

    async def add(self, user_id: str, new: NewDocument) -> Document:
        number = self._check(new)
        document_id = new_id("doc")
        endorsements = [
            {
                "type": e.type,
                "destination": e.destination,
                "expires": e.expires.isoformat(),
                "entries": e.entries,
            }
            for e in new.endorsements
        ]
        async with self.db.acquire() as conn:
            row = await q.insert(
                conn,
                fingerprint=self.cipher.fingerprint(new.type, number),
                id=document_id,
                user_id=user_id,
                type=new.type,
                holder_name=new.holder_name.strip(),
                number_ciphertext=self.cipher.encrypt(number, _aad(user_id, document_id, new.type)),
                number_masked=rules.mask(number),
                issuing=new.issuing,
                expires=new.expires,
                date_of_birth=new.date_of_birth,
                endorsements=endorsements,
                created_at=self.clock.now(),
                holder=new.holder,
            )
        if row is None:
            raise Conflict("document_exists")
        return _document(row)

    def _check(self, new: NewDocument) -> str:
        errors: dict[str, list[str]] = {}
        try:
            number = rules.normalise(new.type, new.number)
        except ValueError as exc:
            errors["number"] = [str(exc)]
            number = ""
        expected_issuer = rules.ISSUER_OF.get(new.type)
        if expected_issuer and new.issuing != expected_issuer:
            errors["issuing"] = [f"a {new.type} is issued by {expected_issuer}"]
        today = self.clock.now().astimezone(_BAY_AREA).date()
        if new.date_of_birth and new.date_of_birth > today:
            errors["date_of_birth"] = ["must not be in the future"]
        allowed = rules.ENDORSEMENTS_OF.get(new.type, ())
        wrong = [e for e in new.endorsements if e.type not in allowed or e.destination == new.issuing]
        if wrong:
            errors["endorsements"] = [
                "only exit_entry_permit visit endorsements and passport visas (V), elsewhere"
            ]
        if errors:
            raise InvalidInput(errors)
        if new.expires < today:
            raise InvalidInput({"expires": ["the document has expired"]}, "document_expired")
        return number

    async def list(self, user_id: str, *, cursor: str | None, limit: int) -> Page[Document]:
        async with self.db.acquire() as conn:
            rows = await q.list_for_user(conn, user_id, after=cursor, limit=limit + 1)
        return Page.from_rows([_document(r) for r in rows], limit, key=lambda d: d.id)

    async def get(self, user_id: str, document_id: str) -> Document:
        async with self.db.acquire() as conn:
            row = await q.get_for_user(conn, user_id, document_id)
        if row is None:
            raise NotFound("document_not_found")
        return _document(row)

    async def holder_keys(self, user_id: str, document_id: str) -> tuple[tuple[str, ...], bool]:
        """Who the document's holder is, as stable opaque keys (`doc:` and the keyed fingerprint
        of type and number: the same person's document on two accounts gives the same key):
        the document's own first, then, when it is the rider's own document (holder `self`),
        those of the rider's other own documents: one person holding a Macao ID and a Home
        Return Permit is one person, whichever they show. And whether it is the rider's own."""
        async with self.db.acquire() as conn:
            found = await q.holder_fingerprints(conn, user_id, document_id)
        if found is None:
            raise NotFound("document_not_found")
        fingerprints, holder = found
        return tuple("doc:" + f.hex() for f in fingerprints), holder == "self"

    async def reveal_number(self, user_id: str, document_id: str, access: Access) -> str:
        """The clear number, for the reader `access` names (a partner that needs it, or the
        rider's own re-authenticated export); the read is recorded in the access log in the
        same transaction, so no number is returned without its record."""
        async with self.db.transaction() as conn:
            row = await q.get_for_user(conn, user_id, document_id)
            if row is None:
                raise NotFound("document_not_found")
            number = self.cipher.decrypt(row.number_ciphertext, _aad(user_id, document_id, row.type))
            await access_q.insert(
                conn,
                access_q.AccessRow(
                    id=new_id("pda"),
                    user_id=user_id,
                    document_id=row.id,
                    document_type=row.type,
                    holder_name=row.holder_name,
                    number_masked=row.number_masked,
                    reader_kind=access.reader_kind,
                    reader=access.reader,
                    reader_name=access.reader_name,
                    purpose=access.purpose,
                    reference=access.reference,
                    accessed_at=self.clock.now(),
                ),
            )
        return number

    async def refingerprint(self, batch: int = 500) -> Refingerprinted:
        """Every stored fingerprint under the current fingerprint key and rule (a rotation of
        `[secrets] fingerprint_keys`, or a change of `rules.person_number`), and where copies of
        the old ones are kept: appointments' person keys and passengers' seats. A batch of
        documents at a time, each in one transaction, so a document and its copies change
        together; safe to run again (whatever still carries an old fingerprint a configured key
        gives is rewritten). Numbers are opened here only to be fingerprinted again: nobody
        reads them, so no access is recorded. A document whose new fingerprint another of the
        rider's documents of its type has already (a permit's booklet and its card) keeps its
        old one and is counted in `duplicates`."""
        report = Refingerprinted()
        after = ""
        while True:
            async with self.db.transaction() as conn:
                rows = await q.sealed_after(conn, after, batch)
                moves: dict[bytes, bytes] = {}  # old fingerprint -> new (one number, one new)
                for row in rows:
                    number = self.cipher.decrypt(row.number_ciphertext, _aad(row.user_id, row.id, row.type))
                    current, *previous = self.cipher.fingerprints(row.type, number)
                    gone = {row.number_fingerprint, *previous} - {current}
                    if row.number_fingerprint != current:
                        if not await q.set_fingerprint(conn, row.id, current):
                            report.duplicates += 1
                            continue
                        report.changed += 1
                    moves.update(dict.fromkeys(gone, current))
                if moves:
                    appointments, passengers = await q.replace_fingerprints(
                        conn, list(moves), list(moves.values())
                    )
                    report.appointments += appointments
                    report.passengers += passengers
            report.documents += len(rows)
            if len(rows) < batch:
                return report
            after = rows[-1].id

    async def delete(self, user_id: str, document_id: str) -> None:
        async with self.db.acquire() as conn:
            if not await q.delete_for_user(conn, user_id, document_id):
                raise NotFound("document_not_found")


def endorsements_from(items: Sequence[Mapping[str, Any]]) -> tuple[Endorsement, ...]:
    return tuple(Endorsement(i["type"], i["destination"], i["expires"], i.get("entries")) for i in items)
