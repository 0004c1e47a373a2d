"""A rider's export: everything held about them, as one JSON document or a ZIP that adds the QR
images of their tickets and appointments and the appointments' `.ics` files.

Document numbers are masked unless the rider asks for them in clear, which needs a fresh sign-in
(`reauth`) and writes one access-log record per number read. A small export is answered at once;
one of more than `export_inline_max_records` records is built in the background: a row in
`data_exports` with its progress, taken by one worker at a time (SKIP LOCKED and a lease; one
that dies hands it on when the lease runs out), sealed at rest under the documents key (it may
hold numbers in clear) and downloadable by the rider until `export_hours` later.
"""

from __future__ import annotations

import io
import logging
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

import orjson

from bayaffairs.appointments.service import Appointments
from bayaffairs.clock import Clock
from bayaffairs.config.settings import PrivacySettings
from bayaffairs.consents import ConsentService
from bayaffairs.credentials import Principal
from bayaffairs.db.queries import exports as q
from bayaffairs.db.queries import obligations as obligations_q
from bayaffairs.documents.service import DocumentService
from bayaffairs.errors import Gone, InvalidInput, NotFound
from bayaffairs.ids import new_id
from bayaffairs.pages import MAX_LIMIT, Page
from bayaffairs.privacy.access import Access, AccessLog
from bayaffairs.privacy.portable import portable
from bayaffairs.privacy.reauth import require_fresh
from bayaffairs.sealing import Sealer
from bayaffairs.storage import Database
from bayaffairs.transfers import DataTransfers
from bayaffairs.transit.journeys import Journeys
from bayaffairs.travel.bookings import TravelBookings
from bayaffairs.users import UserService

log = logging.getLogger("bayaffairs.privacy")
FORMATS = ("json", "zip")
NUMBERS = ("masked", "clear")
FORMAT_NAME = "bayaffairs-export/1"
MAX_ATTEMPTS = 3
LEASE = timedelta(minutes=5)
PROGRESS_EVERY = 200  # records between progress writes
T = TypeVar("T")


class Lister(Protocol[T]):
    async def __call__(self, user_id: str, *, cursor: str | None, limit: int) -> Page[T]: ...


class Renderer(Protocol):
    async def render(self, kind: str, payload: str) -> bytes: ...


@dataclass(frozen=True)
class Sources:
    """The services whose records an export holds (each read through its own listing)."""

    users: UserService
    documents: DocumentService
    consents: ConsentService
    transfers: DataTransfers
    access_log: AccessLog
    journeys: Journeys
    bookings: TravelBookings
    appointments: Appointments
    renderer: Renderer


@dataclass(frozen=True)
class ExportFile:
    content: bytes
    content_type: str
    filename: str


@dataclass(frozen=True)
class ExportJob:
    id: str
    status: str  # queued, running, ready, failed
    format: str
    document_numbers: str
    done: int
    total: int
    created_at: datetime
    expires_at: datetime

    @property
    def percent(self) -> int:
        return 100 if self.status == "ready" or not self.total else min(99, self.done * 100 // self.total)


def _job(row: q.ExportRow) -> ExportJob:
    return ExportJob(
        row.id, row.status, row.format, row.numbers, row.done, row.total, row.created_at, row.expires_at
    )


@dataclass(frozen=True)
class _Order:
    """One export to build: whose, in what form, and who asked (the reader of clear numbers)."""

    id: str
    user_id: str
    credential_id: str
    format: str
    numbers: str
    language: str


Progress = Callable[[int], Awaitable[None]]


class Exports:
    def __init__(
        self, db: Database, clock: Clock, settings: PrivacySettings, sources: Sources, sealer: Sealer
    ) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings
        self.sources = sources
        self.sealer = sealer

    # -- asking ------------------------------------------------------------------------------

    async def export(
        self, principal: Principal, export_format: str, numbers: str, language: str
    ) -> ExportFile | ExportJob:
        """The file at once when it is small, else the background job that builds it (the one
        already under way for the same form, if any)."""
        if export_format not in FORMATS or numbers not in NUMBERS:
            raise InvalidInput({"format": [f"one of {', '.join(FORMATS)}"]})
        now = self.clock.now()
        if numbers == "clear":
            require_fresh(principal, self.settings, now)
        user_id = principal.scope
        async with self.db.acquire() as conn:
            total = sum((await q.counts(conn, user_id)).values())
        order = _Order(new_id("exp"), user_id, principal.credential_id, export_format, numbers, language)
        if total <= self.settings.export_inline_max_records:
            return await self._build(order, _no_progress)
        async with self.db.transaction() as conn:
            await q.lock_user(conn, user_id)
            running = await q.find_running(conn, user_id, export_format, numbers)
            if running is not None:
                return _job(running)
            row = await q.insert(
                conn,
                id=order.id,
                user_id=user_id,
                credential_id=principal.credential_id,
                format=export_format,
                numbers=numbers,
                language=language,
                total=total,
                at=now,
                expires_at=now + timedelta(hours=self.settings.export_hours),
            )
        return _job(row)

    async def status(self, user_id: str, export_id: str) -> ExportJob:
        async with self.db.acquire() as conn:
            row = await q.get_for_user(conn, user_id, export_id)
        if row is None:
            raise NotFound("export_not_found")
        return _job(row)

    async def download(self, principal: Principal, export_id: str) -> ExportFile:
        """The built file, for its rider only; one with numbers in clear needs a fresh sign-in
        again (a leaked session or link alone does not open it)."""
        now = self.clock.now()
        async with self.db.acquire() as conn:
            row = await q.get_for_user(conn, principal.scope, export_id)
            sealed = await q.content(conn, export_id) if row and row.status == "ready" else None
        if row is None:
            raise NotFound("export_not_found")
        if row.expires_at <= now:
            raise Gone("export_expired")
        if sealed is None or row.content_type is None:
            raise NotFound("export_not_ready", status=row.status)
        if row.numbers == "clear":
            require_fresh(principal, self.settings, now)
        content = self.sealer.open(sealed, _context(row.user_id, row.id))
        return ExportFile(content, row.content_type, _filename(row.id, row.format))

    # -- building in the background ---------------------------------------------------------

    async def build_pending(self) -> int:
        """Build the exports waiting (a periodic job in every worker; each export is built by
        the one that claims it). Returns how many were finished."""
        finished = 0
        while True:
            now = self.clock.now()
            async with self.db.transaction() as conn:
                await q.fail_exhausted(conn, now, MAX_ATTEMPTS)
                row = await q.claim(conn, now, now + LEASE, MAX_ATTEMPTS)
            if row is None:
                return finished
            order = _Order(row.id, row.user_id, row.credential_id, row.format, row.numbers, row.language)
            try:
                built = await self._build(order, self._progress(row.id))
            except Exception:
                log.exception("export %s failed (attempt %d)", row.id, row.attempts)
                async with self.db.acquire() as conn:
                    await q.give_up(conn, row.id, self.clock.now(), failed=row.attempts >= MAX_ATTEMPTS)
                continue
            sealed = self.sealer.seal(built.content, _context(row.user_id, row.id))
            async with self.db.acquire() as conn:
                await q.finish(
                    conn,
                    row.id,
                    content=sealed,
                    content_type=built.content_type,
                    size=len(built.content),
                    at=self.clock.now(),
                )
            finished += 1

    def _progress(self, export_id: str) -> Progress:
        async def report(done: int) -> None:
            async with self.db.acquire() as conn:
                await q.progress(conn, export_id, done, self.clock.now())

        return report

    # -- the file ----------------------------------------------------------------------------

    async def _build(self, order: _Order, progress: Progress) -> ExportFile:
        collected = _Collected(progress)
        document = await self._document(order, collected)
        body = orjson.dumps(document, option=orjson.OPT_INDENT_2)
        if order.format == "json":
            return ExportFile(body, "application/json", _filename(order.id, "json"))
        return ExportFile(
            await self._zip(order, body, document), "application/zip", _filename(order.id, "zip")
        )

    async def _document(self, order: _Order, collected: _Collected) -> dict[str, Any]:
        s = self.sources
        user_id = order.user_id
        async with self.db.acquire() as conn:
            identities = await q.identities(conn, user_id)
            category_history = await q.category_history(conn, user_id)
            sessions = await q.sessions(conn, user_id, self.clock.now())
            ride_accounts = await q.ride_accounts(conn, user_id)
            debts = await obligations_q.debts(conn, user_id)
        documents: list[Any] = await collected.all(s.documents.list, user_id)
        if order.numbers == "clear":
            reader = Access("rider", order.credential_id, "export", order.id)
            documents = [
                {**portable(d), "number": await s.documents.reveal_number(user_id, d.id, reader)}
                for d in documents
            ]
        exported: dict[str, Any] = portable(
            {
                "format": FORMAT_NAME,
                "generated_at": self.clock.now(),
                "document_numbers": order.numbers,
                "profile": await s.users.get(user_id),
                "category_history": category_history,
                "sign_in_identities": identities,
                "sessions": sessions,
                "documents": documents,
                "consents": [
                    {**portable(c), "status": c.status} for c in await collected.all(s.consents.list, user_id)
                ],
                "data_transfers": await collected.all(s.transfers.list, user_id),
                "access_log": await collected.all(s.access_log.list, user_id),
                "ride_accounts": ride_accounts,
                "journeys": await collected.all(s.journeys.list, user_id),
                "debts": debts,
                "bookings": await collected.all(s.bookings.list, user_id),
                "appointments": await collected.all(s.appointments.booking.list, user_id),
            }
        )
        return exported

    async def _zip(self, order: _Order, body: bytes, document: dict[str, Any]) -> bytes:
        """export.json, each valid ticket's QR, each active appointment's QR and every
        appointment's .ics."""
        s = self.sources
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("export.json", body)
            for booking in document["bookings"]:
                for ticket in booking["tickets"]:
                    if ticket["status"] == "valid":
                        image = await s.renderer.render("png", ticket["payload"])
                        archive.writestr(f"tickets/{ticket['id']}.png", image)
            for appointment in await self._appointments(order.user_id):
                if appointment.active:
                    payload = await s.appointments.booking.qr_payload(appointment)
                    archive.writestr(
                        f"appointments/{appointment.id}.png", await s.renderer.render("png", payload)
                    )
                ics = await s.appointments.ics(order.user_id, appointment.id, order.language)
                archive.writestr(f"appointments/{appointment.id}.ics", ics)
        return out.getvalue()

    async def _appointments(self, user_id: str) -> list[Any]:
        return [a async for page in pages(self.sources.appointments.booking.list, user_id) for a in page]


class _Collected:
    """Reads every page of a listing, reporting progress as records come in."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.done = 0
        self._reported = 0

    async def all(self, lister: Lister[T], user_id: str) -> list[T]:
        items: list[T] = []
        async for page in pages(lister, user_id):
            items += page
            self.done += len(page)
            if self.done - self._reported >= PROGRESS_EVERY:
                self._reported = self.done
                await self.progress(self.done)
        return items


async def pages(lister: Lister[T], user_id: str) -> AsyncIterator[Sequence[T]]:
    cursor: str | None = None
    while True:
        page = await lister(user_id, cursor=cursor, limit=MAX_LIMIT)
        yield page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


async def _no_progress(done: int) -> None:
    return None


def _context(user_id: str, export_id: str) -> str:
    return f"export|{user_id}|{export_id}"


def _filename(export_id: str, export_format: str) -> str:
    return f"bayaffairs-{export_id}.{export_format}"
