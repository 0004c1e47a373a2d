"""Pushes our bookings of Hengqin's remote video counters (in Macao) to Hengqin's booking system.

Hengqin's staff serve these counters by video, so they must know who is coming: every booking,
reschedule and cancellation is an event sent to their system (a DEMO protocol: no published API).

The partner protocol (agreed with the agency):

`POST {base_url}/v1/bookings/events` with headers `Authorization: Bearer <api_key>` and
`Idempotency-Key: <event key>`, body `{"event", "reference", "centre", "service", "start", "end",
"applicant": {...}}`. The agency answers

- 200 or 201 `{"agency_reference": "..."}`: recorded; the same key again gives the same answer
  without recording twice;
- 422 `{"code": "...", "message": "..."}` with a code: a **refusal**, the agency's decision on
  the booking by its own rules (the applicant already has one that week, say). This alone is a
  refusal: `PartnerError` with `refused` (the code) and `refusal` (the message, or the code),
  and the outbox cancels the booking and tells the rider;
- anything else is no decision about the booking, and never cancels it: 401 and 403 (our key is
  wrong, rotated or not yet enabled there), 404, 408, 409 (the key is in use by a push of ours
  still in flight), 429, other 4xx, any 5xx, a 2xx without a reference, an answer that is not
  JSON, a timeout or an agency that cannot be reached. Each raises `PartnerError` without
  `refused`, with `status` (when there was one) and `retry_after` (seconds, from a
  `Retry-After` header, when given); the outbox retries it with backoff, waiting at least
  `retry_after`, logs it (our own credentials refused: as an error) and counts it in /metrics.

Without a `base_url` (the demo configuration) the agency's system is not connected, and `push`
answers at once with an empty reference.
"""

from __future__ import annotations

import json

from marshmallow import fields, validate

from bayaffairs.adapters.protocols import AgencyEvent
from bayaffairs.appointments.agency_settings import AgencySettings, ConfiguredAgency
from bayaffairs.errors import PartnerError
from bayaffairs.integrations.remote import RemotePartner, retry_after_seconds, timeout_field

REFUSAL = 422  # the one status by which the agency refuses a booking (see the module docstring)


class Settings(AgencySettings):
    base_url = fields.String(
        load_default="",
        validate=validate.Regexp(r"^(https?://\S+)?$"),
        metadata={"description": "empty: not connected"},
    )
    api_key = fields.String(load_default="", validate=validate.Length(max=500))
    timeout_seconds = timeout_field()


class HengqinRemoteCounters(RemotePartner, ConfiguredAgency):
    Settings = Settings

    async def push(self, event: AgencyEvent) -> str:
        s = self.settings
        if not s["base_url"]:
            return ""
        body = {
            "event": event.event,
            "reference": event.reference,
            "appointment_id": event.appointment_id,
            "centre": event.centre_id,
            "service": event.service_id,
            "start": event.start.isoformat(),
            "end": event.end.isoformat(),
            "applicant": dict(event.fields),
        }
        headers = {"Idempotency-Key": event.key}
        if s["api_key"]:
            headers["Authorization"] = f"Bearer {s['api_key']}"
        url = f"{s['base_url'].rstrip('/')}/v1/bookings/events"
        reply = await self.reply("POST", url, json=body, headers=headers)
        status = reply.status
        if status in (200, 201):
            reference = self.answer(reply.body).get("agency_reference")
            if isinstance(reference, str):
                return reference
            raise self.failure(f"answered {status} without agency_reference", status=str(status))
        code = _field(reply.body, "code")
        if status == REFUSAL and code:
            reason = _field(reply.body, "message")
            raise self.failure(f"refused {status} {code}", refused=code, refusal=reason or code)
        details = {"status": str(status)}
        wait = retry_after_seconds(reply.headers.get("Retry-After"), self.context.clock.now())
        if wait is not None:
            details["retry_after"] = str(wait)
        raise self.failure(f"answered {status}" + (f" {code}" if code else ""), **details)

    def failure(self, reason: str, **details: str) -> PartnerError:
        """The outbox keeps `why` with the failed attempt, and retries all but a refusal."""
        return super().failure(reason, why=reason, **details)


def _field(raw: bytes, name: str) -> str:
    """A string field of an error answer, "" when there is none (the body may not be JSON)."""
    try:
        answer = json.loads(raw)
    except ValueError:
        return ""
    value = answer.get(name) if isinstance(answer, dict) else None
    return value[:500] if isinstance(value, str) else ""
