"""Services, centres and slots, and a rider's appointments (book, reschedule, cancel, .ics, QR)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
from aiohttp import web

from bayaffairs.appointments.booking import Booked
from bayaffairs.appointments.model import Appointment
from bayaffairs.handlers.endpoint import RIDER, Call, dump, endpoint
from bayaffairs.handlers.etag import etagged
from bayaffairs.handlers.jsonresp import json_response
from bayaffairs.handlers.schemas.appointments import (
    AppointmentIn,
    AppointmentOut,
    AppointmentPage,
    CentreList,
    RescheduleIn,
    ServiceList,
    ServicesQuery,
    SlotList,
    SlotsQuery,
)
from bayaffairs.handlers.schemas.common import PageQuery

routes = web.RouteTableDef()
APPOINTMENT = "{appointment_id:apt_[0-9A-Z]{26}}"


def view(call: Call, appointment: Appointment, qr_payload: str | None = None) -> dict[str, Any]:
    """The appointment with its times in the centre's zone, as its slots were listed."""
    base = f"/v1/appointments/{appointment.id}"
    qr = {"payload": qr_payload, "png_url": f"{base}.png"} if qr_payload else None
    catalogue = call.services.appointments.catalogue
    local = appointment.in_zone(catalogue.zone_of(appointment.centre_id))
    language = catalogue.notice_language(appointment)
    return {**local.__dict__, "language": language, "qr": qr, "ics_url": f"{base}.ics"}


def booked_view(call: Call, booked: Booked) -> dict[str, Any]:
    return view(call, booked.appointment, booked.qr_payload)


@routes.get("/v1/services")
@endpoint(
    summary="Counter services of every agency",
    tags=("appointments",),
    query=ServicesQuery,
    responses={200: ServiceList},
)
async def list_services(call: Call) -> web.Response:
    items = call.services.appointments.catalogue.services_json(call.language, call.query["jurisdiction"])
    body = dump(ServiceList, {"items": items})
    return etagged(call.request, orjson.dumps(body), {"Cache-Control": "public, max-age=300"})


@routes.get("/v1/centres")
@endpoint(
    summary="Service centres, and self-service kiosks",
    tags=("appointments",),
    responses={200: CentreList},
    description="Bookable service centres (`kind` service_centre, `bookable` true) and also the "
    "self-service kiosks (`kind` kiosk, `bookable` false: opening hours and services, no counters, "
    "no slots; walked up to, never booked: 400 not_bookable).",
)
async def list_centres(call: Call) -> web.Response:
    body = dump(CentreList, {"items": call.services.appointments.catalogue.centres_json(call.language)})
    return etagged(call.request, orjson.dumps(body), {"Cache-Control": "public, max-age=300"})


@routes.get("/v1/centres/{centre_id}/slots")
@endpoint(
    summary="Slots of a service at a centre, with what remains of each",
    tags=("appointments",),
    query=SlotsQuery,
    responses={200: SlotList},
    errors=(404,),
    description="`date` for one day, or `from` with `to` or `days` (at most 62 days); days are the "
    "centre's calendar days. Only slots that can be booked now are offered: inside the service's "
    "booking window and not started; `remaining` is how many more the centre's desks can take at "
    "that time (a desk serves one person at a time, whatever the service).",
)
async def list_slots(call: Call) -> web.Response:
    query = call.query
    first = query["date"] or query["from_"]
    last = query["date"] or query["to"] or first + timedelta(days=(query["days"] or 1) - 1)
    items = await call.services.appointments.booking.slots(
        call.path("centre_id"), query["service"], first, last
    )
    return json_response(dump(SlotList, {"items": items}))


@routes.post("/v1/appointments")
@endpoint(
    summary="Book an appointment",
    tags=("appointments",),
    auth=RIDER,
    body=AppointmentIn,
    responses={201: AppointmentOut},
    idempotent=True,
    errors=(403, 404, 409),
    description="409 slot_full; 409 quota_exceeded (per department and person: `limit`, `window`, "
    "`from`, `to`); 409 cancellation_cooldown (the rider cancelled this slot: `until`); 409 "
    "cancellation_still_counts (a cancellation of the person's still holds its desk: `until`, and "
    "`window` time with the held `from` and `to`, or day or week with `limit`, `from` and `to`); 400 "
    "not_slot_boundary, outside_opening_hours, centre_closed, outside_booking_window, "
    "rider_limit_reached, document_not_accepted; 403 consent_required when the applicant's data "
    "would go to another jurisdiction without consent. The notices about the appointment (reminder, "
    "desk closed, agency refusal) are in the language Accept-Language picks (en, zh-Hant, zh-Hans; "
    "English when it names none of them), kept as `language`.",
)
async def book(call: Call) -> web.Response:
    b = call.body
    booked = await call.services.appointments.booking.book(
        call.rider, b["centre_id"], b["service_id"], b["start"], b["document_id"], language=call.language
    )
    return json_response(dump(AppointmentOut, booked_view(call, booked)), status=201)


@routes.get("/v1/appointments")
@endpoint(
    summary="The rider's appointments, newest first",
    tags=("appointments",),
    auth=RIDER,
    query=PageQuery,
    responses={200: AppointmentPage},
)
async def list_appointments(call: Call) -> web.Response:
    page = await call.services.appointments.booking.list(
        call.rider, cursor=call.query["cursor"], limit=call.query["limit"]
    )
    return json_response(
        dump(AppointmentPage, {"items": [view(call, a) for a in page.items], "next_cursor": page.next_cursor})
    )


@routes.get(f"/v1/appointments/{APPOINTMENT}")
@endpoint(
    summary="One appointment",
    tags=("appointments",),
    auth=RIDER,
    responses={200: AppointmentOut},
    errors=(404,),
)
async def get_appointment(call: Call) -> web.Response:
    booking = call.services.appointments.booking
    appointment = await booking.get(call.rider, call.path("appointment_id"))
    payload = await booking.qr_payload(appointment) if appointment.active else None
    return json_response(dump(AppointmentOut, view(call, appointment, payload)))


@routes.post(f"/v1/appointments/{APPOINTMENT}/reschedule")
@endpoint(
    summary="Move an appointment to another slot",
    tags=("appointments",),
    auth=RIDER,
    body=RescheduleIn,
    responses={201: AppointmentOut},
    idempotent=True,
    errors=(404, 409),
    description="Atomic: the new appointment (with `rescheduled_from`) holds the new slot, the old one "
    "becomes `rescheduled`, frees its slot, and its QR no longer checks in. 409 slot_full, "
    "appointment_not_active, appointment_started (at or after its start), quota_exceeded, "
    "cancellation_cooldown, cancellation_still_counts (as for booking), centre_not_bookable (booked "
    "at a desk that has since become a self-service kiosk: it can still be read and cancelled). It "
    "keeps the old one's `language` unless Accept-Language names one of en, zh-Hant, zh-Hans.",
)
async def reschedule(call: Call) -> web.Response:
    booked = await call.services.appointments.booking.reschedule(
        call.rider, call.path("appointment_id"), call.body["start"], call.stated_language
    )
    return json_response(dump(AppointmentOut, booked_view(call, booked)), status=201)


@routes.post(f"/v1/appointments/{APPOINTMENT}/cancellation")
@endpoint(
    summary="Cancel an appointment (frees the slot after the agency's cooldown)",
    tags=("appointments",),
    auth=RIDER,
    responses={200: AppointmentOut},
    idempotent=True,
    errors=(404, 409),
    description="409 appointment_started at or after its start; appointment_not_active. The quota "
    "comes back at once, but while the cancelled appointment holds its desk it still counts for its "
    "person: no other booking of theirs overlapping it, and no more such cancellations on a day or "
    "in a week than the quota allows appointments (409 cancellation_still_counts on booking).",
)
async def cancel(call: Call) -> web.Response:
    appointment = await call.services.appointments.booking.cancel(call.rider, call.path("appointment_id"))
    return json_response(dump(AppointmentOut, view(call, appointment)))


@routes.get(f"/v1/appointments/{APPOINTMENT}.ics")
@endpoint(
    summary="The appointment as an iCalendar file",
    tags=("appointments",),
    auth=RIDER,
    responses={200: None},
    produces="text/calendar",
    errors=(404,),
)
async def appointment_ics(call: Call) -> web.Response:
    text = await call.services.appointments.ics(call.rider, call.path("appointment_id"), call.language)
    return web.Response(
        body=text.encode("utf-8"),
        content_type="text/calendar",
        charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="appointment.ics"'},
    )


@routes.get(f"/v1/appointments/{APPOINTMENT}.png")
@endpoint(
    summary="The check-in QR image of an active appointment",
    tags=("appointments",),
    auth=RIDER,
    responses={200: None},
    produces="image/png",
    errors=(404, 409),
    description="Needs the rider's token (another rider's appointment is 404); the `.ics` too. An app "
    "that cannot send headers with an image renders `qr.payload` itself.",
)
async def appointment_png(call: Call) -> web.Response:
    services = call.services
    appointment = await services.appointments.booking.get(call.rider, call.path("appointment_id"))
    payload = await services.appointments.booking.qr_payload(appointment)
    image = await services.transit.renderer.render("png", payload)
    return web.Response(
        body=image, content_type="image/png", headers={"Cache-Control": "private, max-age=60"}
    )
