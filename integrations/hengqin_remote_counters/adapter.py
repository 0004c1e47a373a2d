"""Pushes our bookings of Hengqin's remote video counters (in Macao) to Hengqin's booking system.

Hengqin's staff serve these counters by video, so they must know who is coming: every booking,
reschedule and cancellation is an event sent to their system (a DEMO protocol: no published API).

`POST {base_url}/v1/bookings/events` with headers `Authorization: Bearer <api_key>` and
`Idempotency-Key: <event key>`, body `{"event", "reference", "centre", "service", "start", "end",
"applicant": {...}}`; the agency answers 200 or 201 `{"agency_reference": "..."}`, and the same
key again gives the same answer without recording twice. A timeout, a connection failure or a
5xx raises `PartnerError` (the core's outbox retries); a 4xx is a refusal, also `PartnerError`
with the agency's code, which the outbox does not retry for ever.

Without a `base_url` (the demo configuration) the agency's system is not connected, and `push`
answers at once with an empty reference.
"""

from __future__ import annotations

from marshmallow import fields, validate

from bayaffairs.adapters.protocols import AgencyEvent
from bayaffairs.appointments.agency_settings import AgencySettings, ConfiguredAgency
from bayaffairs.errors import PartnerError
from bayaffairs.integrations.remote import RemotePartner, timeout_field


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
        status, raw = await self.request("POST", url, json=body, headers=headers)
        if status >= 500:
            raise self.failure(f"answered {status}")
        answer = self.answer(raw)
        if status >= 400:
            code = answer.get("code")
            reason = answer.get("message")
            raise self.failure(
                f"refused {status} {code}",
                refused=str(code or status),
                refusal=str(reason) if isinstance(reason, str) and reason else str(code or status),
            )
        reference = answer.get("agency_reference")
        if not isinstance(reference, str):
            raise self.failure("answered without agency_reference")
        return reference

    def failure(self, reason: str, **details: str) -> PartnerError:
        """The outbox keeps `why` with the failed attempt, and retries all but a refusal."""
        return super().failure(reason, why=reason, **details)
