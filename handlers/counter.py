"""The counter's side of appointments; a counter credential is scoped to one centre.

The day list's ETag is the centre's change number (with the date, cursor and language): every
change to the centre's appointments moves it, so a matching If-None-Match is answered with 304
without loading or hashing the list, and without a read while the worker keeps the centre's number
(`ChangeNumbers`: it hears every new one). For the same reason the encoded full day (no `since`) is
kept per centre, day, language and change number (`DayBodies`), with its gzip form for clients
that send Accept-Encoding: gzip (a counter's does): a repeated pull costs a look-up; a change is a
new number, so a miss. Deltas are computed, and sent plain.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

import orjson
from aiohttp import web

from bayaffairs.appointments.blocks import Blocked
from bayaffairs.appointments.day_cache import compress
from bayaffairs.appointments.desk import DayList
from bayaffairs.appointments.model import Appointment
from bayaffairs.db.queries.appointments import Block
from bayaffairs.errors import Conflict
from bayaffairs.handlers.endpoint import Auth, Call, dump, endpoint
from bayaffairs.handlers.headers import accepts_gzip
from bayaffairs.handlers.jsonresp import CONTENT_TYPE, json_response
from bayaffairs.handlers.schemas.appointments import (
    BlockIn,
    BlockList,
    BlockOut,
    CheckInByIdIn,
    CheckInIn,
    CheckInOut,
    CounterAppointmentOut,
    CounterDay,
    CounterDayQuery,
    DisplayOut,
    OutcomeIn,
    QueueNextIn,
    QueueNextOut,
    WalkInIn,
    WalkInOut,
)
from bayaffairs.handlers.schemas.common import FIRST_YEAR, LAST_YEAR

routes = web.RouteTableDef()
COUNTER = Auth(("counter",))
SCREEN = Auth(("counter", "display"))
APPOINTMENT = "{appointment_id:apt_[0-9A-Z]{26}}"
BLOCK = "{block_id:blk_[0-9A-Z]{26}}"


def counter_view(call: Call, appointment: Appointment) -> dict[str, object]:
    catalogue = call.services.appointments.catalogue
    data = dict(appointment.in_zone(catalogue.zone_of(appointment.centre_id)).__dict__)
    service = catalogue.services.get(data["service_id"])
    data["service_name"] = service.name.get(call.language) if service else data["service_id"]
    centre = catalogue.centres.get(data["centre_id"])
    if centre is not None and centre.data_stays_in:
        data["holder_name"] = data["number_masked"] = None
    return data


_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_SINCE = re.compile(r"[0-9]{1,18}")


def _fast_day_query(raw: Any) -> dict[str, Any] | None:
    """The query as CounterDayQuery loads it, if it is plainly valid (an ISO date, a cursor of
    digits), else None: marshmallow decides, with its messages. Every counter polls this route,
    and the schema's load cost about as much as the rest of a 304."""
    if not raw.keys() <= {"date", "since"}:
        return None
    text, cursor = raw.get("date"), raw.get("since")
    day = None
    if text is not None:
        if not _DATE.fullmatch(text):
            return None
        try:
            day = date.fromisoformat(text)
        except ValueError:
            return None
        if not FIRST_YEAR <= day.year <= LAST_YEAR:  # BoundedDate's years: left to the schema
            return None
    since = 0
    if cursor is not None:
        if not _SINCE.fullmatch(cursor):
            return None
        since = int(cursor)
    return {"date": day, "since": since}


@routes.get("/v1/counter/appointments")
@endpoint(
    summary="The centre's appointments of a day, or what changed since a cursor",
    tags=("counter",),
    auth=COUNTER,
    query=CounterDayQuery,
    fast_query=_fast_day_query,
    responses={200: CounterDay, 304: None},
    description="Only the name and the masked document number of each person (neither, null, where "
    "the centre's data stays home: `data_stays_in`). `since`: only "
    "appointments changed after that cursor (cancelled and rescheduled ones included, so a "
    "counter can drop them). ETag / If-None-Match gives 304. With Accept-Encoding: gzip the full "
    "day (no `since`) comes gzip-compressed (Content-Encoding: gzip), under the same weak ETag.",
)
async def day_list(call: Call) -> web.Response:
    desk = call.services.appointments.desk
    centre = call.scope
    day = call.query["date"] or desk.today(centre)
    since = call.query["since"]
    language = call.language

    def etag(cursor: int) -> str:
        return f'W/"{centre}:{day.isoformat()}:{since}:{cursor}:{language}"'

    wanted = call.request.headers.get("If-None-Match")
    packed = accepts_gzip(call.request.headers.get("Accept-Encoding"))
    bodies = call.services.appointments.day_bodies
    if wanted or not since:
        current = max(await desk.cursor(centre), since)
        tag = etag(current)
        if wanted and tag in wanted:
            return web.Response(status=304, headers={"ETag": tag, **VARY})
        if not since:
            kept = bodies.get(centre, day, language, current)
            if kept is not None:
                return _full_day(kept.body, bodies.gzipped(kept) if packed else None, tag)
    if since:
        listing = await desk.day(centre, day, since)
        body = orjson.dumps(_day_body(call, listing))
        return web.Response(body=body, content_type=CONTENT_TYPE, headers={"ETag": etag(listing.cursor)})

    async def build() -> tuple[int, bytes]:
        listing = await desk.day(centre, day, 0)
        body = orjson.dumps(_day_body(call, listing))
        bodies.put(centre, day, language, listing.cursor, body)
        return listing.cursor, body

    # Every counter pulling when the number moves misses at once: one build serves them all.
    cursor, body = await bodies.build_once(centre, day, language, current, build)
    kept = bodies.get(centre, day, language, cursor)
    gzipped = None if not packed else bodies.gzipped(kept) if kept else compress(body)
    return _full_day(body, gzipped, etag(cursor))


VARY = {"Vary": "Accept-Encoding"}


def _full_day(body: bytes, gzipped: bytes | None, etag: str) -> web.Response:
    """The full day, in its gzip form when the client takes gzip (one weak ETag for both)."""
    if gzipped is None:
        return web.Response(body=body, content_type=CONTENT_TYPE, headers={"ETag": etag, **VARY})
    return web.Response(
        body=gzipped, content_type=CONTENT_TYPE, headers={"ETag": etag, "Content-Encoding": "gzip", **VARY}
    )


def _day_body(call: Call, listing: DayList) -> dict[str, object]:
    """CounterDay, shaped by hand: a centre-day is thousands of rows (marshmallow takes ~50 us a
    row; orjson writes the datetimes as RFC 3339 itself). Only the name and masked number."""
    catalogue = call.services.appointments.catalogue
    names = {sid: s.name.get(call.language) for sid, s in catalogue.services.items()}
    zone = catalogue.zone_of(listing.centre_id)  # wall times of the centre, as its slots
    stays = catalogue.centre(listing.centre_id).data_stays_in
    return {
        "centre_id": listing.centre_id,
        "data_stays_in": stays,
        "date": listing.date,
        "since": listing.since,
        "cursor": listing.cursor,
        "items": [
            {
                "id": id_,
                "reference": reference,
                "service_id": service_id,
                "service_name": names.get(service_id, service_id),
                "start": start.astimezone(zone),
                "end": end.astimezone(zone),
                "status": status,
                "holder_name": None if stays else holder_name,
                "number_masked": None if stays else number_masked,
                "queue_number": queue_number,
                "call_count": call_count,
                "called_by": called_by,
                "walk_in": walk_in,
                "change": change,
            }
            for (
                id_,
                reference,
                service_id,
                start,
                end,
                status,
                holder_name,
                number_masked,
                queue_number,
                call_count,
                called_by,
                walk_in,
                change,
            ) in listing.items
        ],
    }


def _checked_in(appointment: object, shown: tuple[str, str] | None) -> dict[str, object]:
    """`document` only when the desk typed one: the answer without is as it always was."""
    a = appointment.__dict__
    answer = {"appointment_id": a["id"], "queue_number": a["queue_number"], "status": a["status"]}
    return {**answer, "document": "match"} if shown else answer


def _shown(body: Mapping[str, Any]) -> tuple[str, str] | None:
    """The document the person shows, typed in by the desk (optional)."""
    if body.get("document_type") is None:
        return None
    return body["document_type"], body["document_number"]


@routes.post(f"/v1/counter/appointments/{APPOINTMENT}/check-in")
@endpoint(
    summary="Check a person in; gives a queue number (again the same one on a repeat)",
    tags=("counter",),
    auth=COUNTER,
    body=CheckInByIdIn,
    responses={200: CheckInOut},
    errors=(404, 409),
    description="With the scanned QR `payload` in the body, the code must be the appointment's "
    "current one (409 code_superseded after a reschedule). 409 centre_blocked while a block closes "
    "the whole centre. 409 qr_required without the `payload` where the centre's data stays home "
    "(`data_stays_in`): the desk checks the signed QR and the identity document. With "
    "`document_type` and `document_number` typed from the document the person shows, it must be "
    "the one booked with (409 document_mismatch, no check-in; 409 document_not_booked for a "
    "booking without one); the answer's `document` says match. After 3 mismatches the "
    "appointment's typed check locks: 409 document_check_locked, even for the right number (the "
    "desk checks the person in without typing it); each mismatch is in the audit log.",
)
async def check_in_by_id(call: Call) -> web.Response:
    desk = call.services.appointments.desk
    centre = call.scope
    appointment_id, version = call.path("appointment_id"), None
    if call.body.get("payload"):
        scanned, version = await desk.resolve(centre, payload=call.body["payload"], reference=None)
        if scanned != appointment_id:
            raise Conflict("code_mismatch")
    shown = _shown(call.body)
    appointment = await desk.check_in(centre, appointment_id, version, shown)
    return json_response(dump(CheckInOut, _checked_in(appointment, shown)))


@routes.post("/v1/counter/check-ins")
@endpoint(
    summary="Check a person in by scanned QR payload or typed reference",
    tags=("counter",),
    auth=COUNTER,
    body=CheckInIn,
    responses={200: CheckInOut},
    errors=(404, 409),
    description="409 centre_blocked while a block closes the whole centre. 409 qr_required for a "
    "typed `reference` where the centre's data stays home (`data_stays_in`): no name to check the "
    "document against, so the signed QR `payload` only. `document_type` and `document_number`: as "
    "for /v1/counter/appointments/{appointment_id}/check-in.",
)
async def check_in(call: Call) -> web.Response:
    desk = call.services.appointments.desk
    centre = call.scope
    appointment_id, version = await desk.resolve(
        centre, payload=call.body["payload"], reference=call.body["reference"]
    )
    call.audit_target(appointment_id)
    shown = _shown(call.body)
    appointment = await desk.check_in(centre, appointment_id, version, shown)
    return json_response(dump(CheckInOut, _checked_in(appointment, shown)))


@routes.post("/v1/counter/walk-ins")
@endpoint(
    summary="A queue number for someone without an appointment",
    tags=("counter",),
    auth=COUNTER,
    body=WalkInIn,
    responses={201: WalkInOut},
    idempotent=True,
    errors=(404, 409),
    description="While the centre is open (409 centre_closed_now; 409 centre_blocked while a block "
    "closes the whole centre). A walk-in is called by "
    "`queue/next` only when nobody with an appointment is due at that desk and the desk can serve "
    "the walk-in's service now, for its whole length, without taking a booked person's time.",
)
async def walk_in(call: Call) -> web.Response:
    a = await call.services.appointments.desk.walk_in(call.scope, call.body["service_id"])
    body = {
        "appointment_id": a.id,
        "reference": a.reference,
        "service_id": a.service_id,
        "queue_number": a.queue_number,
        "status": a.status,
    }
    return json_response(dump(WalkInOut, body), status=201)


def _block_view(call: Call, block: Block, blocked: Blocked | None = None) -> dict[str, object]:
    """Times as wall times of the centre, as everywhere a counter reads them."""
    zone = call.services.appointments.catalogue.zone_of(block.centre_id)

    def item(a: Appointment) -> dict[str, object]:
        return {
            "appointment_id": a.id,
            "reference": a.reference,
            "service_id": a.service_id,
            "start": a.start.astimezone(zone),
            "end": a.end.astimezone(zone),
            "status": a.status,
        }

    view: dict[str, object] = {
        "id": block.id,
        "centre_id": block.centre_id,
        "counter": block.counter_id,
        "start": block.starts_at.astimezone(zone),
        "end": block.ends_at.astimezone(zone),
        "reason": block.reason,
        "created_at": block.created_at.astimezone(zone),
        "removed_at": block.removed_at and block.removed_at.astimezone(zone),
    }
    if blocked is not None:
        view["affected"] = [item(a) for a in blocked.affected]
        view["moved"] = [{"appointment_id": a, "counter": c} for a, c in blocked.moved.items()]
    return view


@routes.post("/v1/counter/blocks")
@endpoint(
    summary="Close a desk, or the whole centre, for a time",
    tags=("counter",),
    auth=COUNTER,
    body=BlockIn,
    responses={201: BlockOut},
    idempotent=True,
    errors=(404,),
    description="From then on no booking, reschedule or walk-in takes the time (the slot list "
    "shows it). Appointments already there: on a closed desk each is moved to another desk that "
    "can serve it for its whole length where one is free (`moved`); the rest stay booked, are "
    "listed in `affected`, and their riders are told once, before their time, and offered a "
    "reschedule. At most 31 days; 400 block_in_past.",
)
async def add_block(call: Call) -> web.Response:
    b = call.body
    blocked = await call.services.appointments.blocks.add(
        call.scope, b["counter"], b["start"], b["end"], b["reason"]
    )
    return json_response(dump(BlockOut, _block_view(call, blocked.block, blocked)), status=201)


@routes.get("/v1/counter/blocks")
@endpoint(
    summary="The centre's blocks that are not over yet",
    tags=("counter",),
    auth=COUNTER,
    responses={200: BlockList},
)
async def list_blocks(call: Call) -> web.Response:
    blocks = await call.services.appointments.blocks.current(call.scope)
    return json_response(dump(BlockList, {"items": [_block_view(call, b) for b in blocks]}))


@routes.delete(f"/v1/counter/blocks/{BLOCK}")
@endpoint(
    summary="Open a blocked time again",
    tags=("counter",),
    auth=COUNTER,
    responses={200: BlockOut},
    errors=(404,),
    description="The time can be booked again; appointments are left where they are.",
)
async def remove_block(call: Call) -> web.Response:
    block = await call.services.appointments.blocks.remove(call.scope, call.path("block_id"))
    return json_response(dump(BlockOut, _block_view(call, block)))


@routes.post("/v1/counter/queue/next")
@endpoint(
    summary="Call the next checked-in person to a counter",
    tags=("counter",),
    auth=COUNTER,
    body=QueueNextIn,
    responses={200: QueueNextOut},
    idempotent=True,
    errors=(404, 409),
    description="Two counters calling at once never get the same person. A retry with the same "
    "Idempotency-Key (an answer lost on the way) gets the person already called, not the next, "
    "even once a block has closed the desk or centre since. 409 centre_blocked while a block "
    "closes the whole centre; 409 counter_blocked while a block closes this desk (other desks "
    "still call), both with `until` and `reason` in `details`. "
    "The queue is in "
    "appointment-time order: a checked-in person is called from the centre's `early_minutes` "
    "before their time; one who checked in after `late_grace_minutes` comes after everyone on time "
    "(or was refused at check-in, by the centre's rule); walk-ins fill the gaps. `appointment` is "
    "null when nobody is waiting for the counter's services.",
)
async def queue_next(call: Call) -> web.Response:
    called = await call.services.appointments.desk.call_next(call.scope, call.body["counter"])
    if called.appointment:
        call.audit_target(called.appointment.id)
    appointment = counter_view(call, called.appointment) if called.appointment else None
    return json_response(dump(QueueNextOut, {"counter": called.counter, "appointment": appointment}))


@routes.post(f"/v1/counter/appointments/{APPOINTMENT}/recall")
@endpoint(
    summary="Call a called person again; the third call without showing up makes a no-show",
    description="Not before the appointment's time plus the centre's `late_grace_minutes` (the "
    "rule of the outcome endpoint): until then the person is called again and stays `called`.",
    tags=("counter",),
    auth=COUNTER,
    responses={200: CounterAppointmentOut},
    errors=(404, 409),
)
async def recall(call: Call) -> web.Response:
    appointment = await call.services.appointments.desk.recall(call.scope, call.path("appointment_id"))
    return json_response(dump(CounterAppointmentOut, counter_view(call, appointment)))


@routes.post(f"/v1/counter/appointments/{APPOINTMENT}/outcome")
@endpoint(
    summary="Record that a person was served, or did not show up",
    tags=("counter",),
    auth=COUNTER,
    body=OutcomeIn,
    responses={200: CounterAppointmentOut},
    errors=(404, 409),
    description="409 no_show_too_early before the appointment's time plus the centre's "
    "`late_grace_minutes` (`details.from`); 409 invalid_transition.",
)
async def outcome(call: Call) -> web.Response:
    appointment = await call.services.appointments.desk.outcome(
        call.scope, call.path("appointment_id"), call.body["outcome"]
    )
    return json_response(dump(CounterAppointmentOut, counter_view(call, appointment)))


@routes.get("/v1/counter/display")
@endpoint(
    summary="The hall display: numbers called recently and to which desk",
    tags=("counter",),
    auth=SCREEN,
    responses={200: DisplayOut, 304: None},
    description="For a screen in the centre's hall, read with the centre's `display` credential "
    "(`bayaffairs credentials issue display CENTRE`: it may read this and nothing else) or a counter "
    "credential. Queue numbers and desks only, never a name or a reference. Poll with If-None-Match: "
    "the ETag moves with every check-in, call and outcome, and a matching one gives 304.",
)
async def display(call: Call) -> web.Response:
    screen = call.services.appointments.display
    centre = call.scope
    change = await screen.change(centre)
    etag = f'W/"display:{centre}:{screen.today(centre).isoformat()}:{change}:{call.language}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if etag in call.request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    shown = await screen.show(centre)
    body = {
        "centre_id": shown.centre_id,
        "centre_name": shown.centre_name.get(call.language),
        "date": shown.date,
        "time_zone": shown.time_zone,
        "desks": [
            {
                "counter": d.counter,
                "queue_number": d.call.queue_number if d.call else None,
                "called_at": d.call.called_at if d.call else None,
                "status": d.call.status if d.call else None,
            }
            for d in shown.desks
        ],
        "recent": [c.__dict__ for c in shown.recent],
        "waiting": shown.waiting,
    }
    return json_response(dump(DisplayOut, body), headers=headers)
