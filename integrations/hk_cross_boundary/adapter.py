"""Pushes our bookings of Hong Kong cross-boundary services to the agency's booking system.

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

import logging

import aiohttp
from marshmallow import fields, validate

from bayaffairs.adapters.protocols import AgencyEvent
from bayaffairs.appointments.agency_settings import AgencySettings, ConfiguredAgency
from bayaffairs.errors import PartnerError

log = logging.getLogger(__name__)


class Settings(AgencySettings):
    base_url = fields.String(
        load_default="",
        validate=validate.Regexp(r"^(https?://\S+)?$"),
        metadata={"description": "empty: not connected"},
    )
    api_key = fields.String(load_default="", validate=validate.Length(max=500))
    timeout_seconds = fields.Float(load_default=5.0, validate=validate.Range(min=0, min_inclusive=False))


class HkCrossBoundary(ConfiguredAgency):
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
        try:
            async with self.context.http.post(
                f"{s['base_url'].rstrip('/')}/v1/bookings/events",
                json=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=s["timeout_seconds"]),
            ) as resp:
                if resp.status >= 500:
                    raise self._error(f"answered {resp.status}")
                answer = await resp.json(content_type=None)
                if resp.status >= 400:
                    code = answer.get("code") if isinstance(answer, dict) else None
                    raise self._error(f"refused {resp.status} {code}", refused=str(code or resp.status))
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            raise self._error(f"{type(exc).__name__}: {exc}") from None
        if not isinstance(answer, dict) or not isinstance(answer.get("agency_reference"), str):
            raise self._error("answered without agency_reference")
        return answer["agency_reference"]

    def _error(self, why: str, refused: str | None = None) -> PartnerError:
        log.warning("agency %s: %s", self.id, why)
        details = {"partner": self.id, "why": why}
        if refused:
            details["refused"] = refused
        return PartnerError(details=details)
