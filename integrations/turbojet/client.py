"""The TurboJET booking API as we model it (integrations/turbojet/README.md): paths, headers,
bodies and what each HTTP status means, apart from what the adapter makes of it.

Every mutating call is a JSON POST carrying our booking reference twice: as the
`Idempotency-Key` header and as `reference` in the body, so a retry after a timeout reaches the
same hold or booking at the carrier instead of a second one. Errors are `{"error": {"code",
"message"}}`; 409, 410 and 422 are refusals (`CarrierRefused`), everything unexpected
(unreachable, slow, 5xx, 401, a body that is not what this module expects) is a `CallError`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import aiohttp

from bayaffairs.adapters.protocols import CarrierRefused
from bayaffairs.integrations.remote import CallError, call, json_object

# What a refusal status means when the carrier gives no code we know.
REFUSALS = {409: "sold_out", 410: "hold_expired", 422: "rejected"}
# The carrier's codes we pass on as they are (README.md, "Errors"); any other becomes the above.
KNOWN_CODES = frozenset(
    {
        "sold_out",
        "hold_expired",
        "hold_released",
        "already_confirmed",
        "not_confirmed",
        "departed",
        "unknown_sailing",
        "unknown_fare_class",
        "invalid_seats",
        "invalid_passengers",
        "idempotency_key_reused",
        "unknown_passenger",
    }
)


@dataclass(frozen=True)
class HeldSeats:
    hold_id: str
    expires_at: datetime


@dataclass(frozen=True)
class TurboJetClient:
    http: aiohttp.ClientSession
    base_url: str
    api_key: str
    timeout_seconds: float

    async def availability(self, sailing: str) -> dict[str, int]:
        """Seats on sale per fare class; `CarrierRefused('unknown_sailing')` for a sailing it lacks."""
        answer = await self._call(
            "GET", "/availability", query={"sailing": sailing}, not_found="unknown_sailing"
        )
        seats = answer.get("seats")
        if answer.get("sailing") != sailing or not isinstance(seats, dict):
            raise CallError("availability answer without the sailing's seats")
        if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in seats.values()):
            raise CallError("availability answer with a seat count that is not a count")
        return {str(k): v for k, v in seats.items()}

    async def hold(
        self, reference: str, sailing: str, fare_class: str, seats: int, expires_at: datetime
    ) -> HeldSeats:
        body = {
            "reference": reference,
            "sailing": sailing,
            "fare_class": fare_class,
            "seats": seats,
            "expires_at": expires_at.isoformat(),
        }
        answer = await self._call("POST", "/holds", body=body, key=reference)
        hold_id, until = answer.get("hold_id"), _instant(answer.get("expires_at"))
        if answer.get("reference") != reference or not isinstance(hold_id, str) or not hold_id:
            raise CallError("hold answer for another reference or without hold_id")
        if until is None:
            raise CallError("hold answer without a valid expires_at")
        return HeldSeats(hold_id, until)

    async def confirm(self, reference: str, passengers: Sequence[Mapping[str, str]]) -> str:
        """The carrier's booking id; `CarrierRefused('unknown_hold')` if it has no such hold."""
        body = {"reference": reference, "passengers": [dict(p) for p in passengers]}
        path = f"/holds/{quote(reference, safe='')}/confirmation"
        answer = await self._call("POST", path, body=body, key=reference, not_found="unknown_hold")
        booking_id = answer.get("booking_id")
        if answer.get("reference") != reference or not isinstance(booking_id, str) or not booking_id:
            raise CallError("confirmation answer for another reference or without booking_id")
        return booking_id

    async def release(self, reference: str) -> None:
        """A hold the carrier does not know is already released: that is not an error."""
        path = f"/holds/{quote(reference, safe='')}/release"
        answer = await self._call("POST", path, body={"reference": reference}, key=reference, not_found=None)
        if answer and answer.get("reference") != reference:
            raise CallError("release answer for another reference")

    async def cancel(self, reference: str) -> None:
        path = f"/bookings/{quote(reference, safe='')}/cancellation"
        body = {"reference": reference}
        answer = await self._call("POST", path, body=body, key=reference, not_found="unknown_booking")
        if answer.get("reference") != reference:
            raise CallError("cancellation answer for another reference")

    async def cancel_passenger(self, reference: str, passenger_id: str) -> None:
        """One passenger off a confirmed booking; its Idempotency-Key is `<reference>/<passenger>`,
        so each passenger's cancellation is its own request at the carrier."""
        path = f"/bookings/{quote(reference, safe='')}/passengers/{quote(passenger_id, safe='')}/cancellation"
        key = f"{reference}/{passenger_id}"
        body = {"reference": reference, "passenger_id": passenger_id}
        answer = await self._call("POST", path, body=body, key=key, not_found="unknown_passenger")
        if (answer.get("reference"), answer.get("passenger_id")) != (reference, passenger_id):
            raise CallError("passenger cancellation answer for another passenger")

    async def _call(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
        key: str | None = None,
        not_found: str | None = "not_found",
    ) -> dict[str, Any]:
        """One request under the per-request timeout. `not_found` is the refusal code the
        carrier's 404 means for this verb, or None when that 404 is an answer ({} is returned)."""
        headers = {"X-Api-Key": self.api_key, "Accept": "application/json"}
        if key is not None:
            headers["Idempotency-Key"] = key
        url = self.base_url.rstrip("/") + path
        status, raw = await call(
            self.http,
            method,
            url,
            timeout_seconds=self.timeout_seconds,
            params=query,
            json=body,
            headers=headers,
        )
        code = _error_code(raw) if status >= 400 else None
        if status == 404 and code is not None:  # a bare 404 is a wrong URL, not the carrier's no
            if not_found is None:
                return {}
            raise CarrierRefused(not_found)
        if status in REFUSALS:
            raise CarrierRefused(code if code in KNOWN_CODES else REFUSALS[status])
        if status not in (200, 201):
            raise CallError(f"{method} {path}: HTTP {status}")
        try:
            return json_object(raw)
        except CallError as exc:
            raise CallError(f"{method} {path}: {exc}") from None


def _error_code(raw: bytes) -> str | None:
    """The code of the carrier's error body, None when the body is not one."""
    try:
        code = json.loads(raw)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None
    return code if isinstance(code, str) else None


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None
