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

    async def holder_key(self, user_id: str, document_id: str) -> str:
        """Who the document's holder is, as a stable opaque key (`doc:` and the keyed fingerprint
        of type and number): the same person's document on two accounts gives the same key."""
        async with self.db.acquire() as conn:
            fingerprint = await q.fingerprint_for_user(conn, user_id, document_id)
        if fingerprint is None:
            raise NotFound("document_not_found")
        return "doc:" + fingerprint.hex()

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

    async def delete(self, user_id: str, document_id: str) -> None:
        async with self.db.acquire() as conn:
            if not await q.delete_for_user(conn, user_id, document_id):
                raise NotFound("document_not_found")


def endorsements_from(items: Sequence[Mapping[str, Any]]) -> tuple[Endorsement, ...]:
    return tuple(Endorsement(i["type"], i["destination"], i["expires"], i.get("entries")) for i in items)
