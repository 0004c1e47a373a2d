"""The TurboJET booking API (integrations/turbojet/README.md) played by a real aiohttp server
on 127.0.0.1, with seats per sailing and fare class kept in memory.

For the adapter's tests and for the travel tests that need a carrier to fail. How to use it:

    async with FakeCarrier(clock) as carrier:             # or: await carrier.start() / stop()
        settings = {"base_url": carrier.url, "api_key": carrier.api_key, "timeout_seconds": 10.0}
        carrier.set_capacity(departure_id, economy=50)    # else any sailing has default_capacity
                                                          # (set it to None: only these exist)
        carrier.hold("hold")            # holds are made, answered only once the test calls
                                        # carrier.release("hold"): a timeout test's client
                                        # (timeout_seconds=0.2) always gives up first
        carrier.fail_next("confirm", 503)                 # fails without touching the seats
        carrier.fail_next("confirm", 503, after_work=True)  # confirms, then answers 503
        carrier.refuse_next("hold", "sold_out")           # 409 {"error": {"code": "sold_out"}}
        carrier.garble_next("hold")     # holds, then answers 200 with a body that is not JSON
        carrier.stall_next("confirm")   # the next confirm hangs (doing nothing) until stop()
        carrier.expire(reference)       # the hold's time is up now (or move the test's clock)
        ...
        assert carrier.seats_taken(departure_id) == 0     # no phantom seat at the carrier
        assert carrier.made["confirm"] == 0               # nothing was sold

Verbs are "availability", "hold", "confirm", "release" and "cancel"; the fault knobs are
tests/integrations/faults.py's. `calls[verb]` counts every request, `made[verb]` only the
changes actually made (a replay of the same Idempotency-Key, a refusal or a failure before the
work changes nothing). `requests` keeps what arrived (headers and body), `holds` the carrier's
state by our reference.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from bayaffairs.clock import Clock
from tests.integrations.faults import FaultyPartner

VERBS = ("availability", "hold", "confirm", "release", "cancel", "cancel_passengers")
REQUIRED_PASSENGER_FIELDS = ("holder_name", "document_type", "document_number")
MAX_SEATS_PER_HOLD = 9
_REFUSAL_STATUS = {"sold_out": 409, "already_confirmed": 409, "not_confirmed": 409}
_GONE = ("hold_expired", "hold_released")


@dataclass
class Seen:
    verb: str
    api_key: str | None
    idempotency_key: str | None
    body: Any


@dataclass
class CarrierHoldState:
    """One hold at the carrier, by our reference; `state` is held, confirmed, released, expired
    or cancelled."""

    reference: str
    hold_id: str
    sailing: str
    fare_class: str
    seats: int
    expires_at: datetime
    state: str = "held"
    booking_id: str | None = None
    passengers: list[dict[str, Any]] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)  # passenger ids cancelled on their own


class FakeCarrier(FaultyPartner):
    VERBS = VERBS

    def __init__(
        self,
        clock: Clock,
        *,
        api_key: str = "tj-test-key",
        default_capacity: Mapping[str, int] | None = None,
        max_hold_seconds: int = 1800,
    ) -> None:
        """`clock` is the test's clock (the carrier's holds run out by it), never the wall clock."""
        super().__init__()
        self.api_key = api_key
        self.default_capacity: dict[str, int] | None = (
            {"economy": 100} if default_capacity is None else dict(default_capacity)
        )
        self.max_hold_seconds = max_hold_seconds
        self.now = clock.now
        self.capacity: dict[str, dict[str, int]] = {}
        self.holds: dict[str, CarrierHoldState] = {}
        self.requests: list[Seen] = []

    def setup(self, app: web.Application) -> None:
        app.router.add_get("/availability", self._availability)
        app.router.add_post("/holds", self._hold)
        app.router.add_post("/holds/{reference}/confirmation", self._confirm)
        app.router.add_post("/holds/{reference}/release", self._release_hold)
        app.router.add_post("/bookings/{reference}/cancellation", self._cancel)
        app.router.add_post(
            "/bookings/{reference}/passengers/{passenger_id}/cancellation", self._cancel_passenger
        )

    # -- knobs ----------------------------------------------------------------------------

    def set_capacity(self, sailing: str, **fare_classes: int) -> None:
        self.capacity[sailing] = dict(fare_classes)

    def refuse_next(self, verb: str, code: str, status: int | None = None) -> None:
        """Refuse with the carrier's error body; the status follows the code unless given."""
        super().refuse_next(verb, code, status or (410 if code in _GONE else _REFUSAL_STATUS.get(code, 422)))

    def expire(self, reference: str) -> None:
        self.holds[reference].expires_at = self.now() - timedelta(seconds=1)

    # -- what a test asserts on -------------------------------------------------------------

    def seats_held(self, sailing: str, fare_class: str | None = None) -> int:
        return self._count(sailing, fare_class, "held")

    def seats_sold(self, sailing: str, fare_class: str | None = None) -> int:
        return self._count(sailing, fare_class, "confirmed")

    def seats_taken(self, sailing: str, fare_class: str | None = None) -> int:
        """Held (and not yet expired) plus sold."""
        return self.seats_held(sailing, fare_class) + self.seats_sold(sailing, fare_class)

    def _count(self, sailing: str, fare_class: str | None, state: str) -> int:
        return sum(
            h.seats
            for h in self.holds.values()
            if h.sailing == sailing
            and (fare_class is None or h.fare_class == fare_class)
            and self._state(h) == state
        )

    def _state(self, hold: CarrierHoldState) -> str:
        if hold.state == "held" and self.now() >= hold.expires_at:
            hold.state = "expired"
        return hold.state

    def _classes(self, sailing: str) -> dict[str, int] | None:
        return self.capacity.get(sailing, self.default_capacity)

    # -- the API ----------------------------------------------------------------------------

    async def _serve(
        self, verb: str, request: web.Request, work: Callable[[Any], web.Response]
    ) -> web.Response:
        """Record the request, then check the key and the idempotency headers as part of the work."""
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        key = request.headers.get("Idempotency-Key")
        self.requests.append(Seen(verb, request.headers.get("X-Api-Key"), key, body))

        def checked() -> web.Response:
            if request.headers.get("X-Api-Key") != self.api_key:
                return self.error(401, "unauthorized")
            if request.method == "POST":
                reference = request.match_info.get("reference")
                passenger = request.match_info.get("passenger_id")
                expected = (
                    f"{reference}/{passenger}"
                    if passenger
                    else body.get("reference")
                    if isinstance(body, dict)
                    else None
                )
                if not isinstance(body, dict) or key is None or key != expected:
                    return self.error(400, "idempotency_key_missing")
                if reference is not None and body.get("reference") != reference:
                    return self.error(400, "idempotency_key_mismatch")
            return work(body)

        return await self.serve(verb, checked)

    async def _availability(self, request: web.Request) -> web.Response:
        sailing = request.query.get("sailing", "")

        def work(_: Any) -> web.Response:
            classes = self._classes(sailing)
            if classes is None:
                return self.error(404, "unknown_sailing")
            seats = {c: cap - self.seats_taken(sailing, c) for c, cap in classes.items()}
            return web.json_response({"sailing": sailing, "seats": seats})

        return await self._serve("availability", request, work)

    async def _hold(self, request: web.Request) -> web.Response:
        return await self._serve("hold", request, self._make_hold)

    def _make_hold(self, body: dict[str, Any]) -> web.Response:
        try:
            reference, sailing, fare_class = (str(body[k]) for k in ("reference", "sailing", "fare_class"))
            seats, until = body["seats"], datetime.fromisoformat(body["expires_at"])
        except (KeyError, TypeError, ValueError):
            return self.error(400, "bad_request")
        existing = self.holds.get(reference)
        if existing is not None:
            if (existing.sailing, existing.fare_class, existing.seats) != (sailing, fare_class, seats):
                return self.error(422, "idempotency_key_reused")
            state = self._state(existing)
            if state in ("expired", "released", "cancelled"):
                return self.error(410, "hold_expired" if state == "expired" else "hold_released")
            return web.json_response(_hold_json(existing))
        if not isinstance(seats, int) or not 1 <= seats <= MAX_SEATS_PER_HOLD or until.tzinfo is None:
            return self.error(422, "invalid_seats")
        classes = self._classes(sailing)
        if classes is None:
            return self.error(422, "unknown_sailing")
        if fare_class not in classes:
            return self.error(422, "unknown_fare_class")
        if seats > classes[fare_class] - self.seats_taken(sailing, fare_class):
            return self.error(409, "sold_out")
        until = min(until, self.now() + timedelta(seconds=self.max_hold_seconds))
        hold = CarrierHoldState(reference, "TJH" + secrets.token_hex(6), sailing, fare_class, seats, until)
        self.holds[reference] = hold
        self.made["hold"] += 1
        return web.json_response(_hold_json(hold), status=201)

    async def _confirm(self, request: web.Request) -> web.Response:
        reference = request.match_info["reference"]

        def work(body: dict[str, Any]) -> web.Response:
            hold = self.holds.get(reference)
            if hold is None:
                return self.error(404, "unknown_hold")
            state = self._state(hold)
            if state == "confirmed":
                return web.json_response(_booking_json(hold))
            if state != "held":
                return self.error(410, "hold_expired" if state == "expired" else "hold_released")
            passengers = body.get("passengers")
            if not _valid_passengers(passengers, hold.seats):
                return self.error(422, "invalid_passengers")
            hold.state, hold.booking_id, hold.passengers = (
                "confirmed",
                "TJB" + secrets.token_hex(6),
                passengers,
            )
            self.made["confirm"] += 1
            return web.json_response(_booking_json(hold))

        return await self._serve("confirm", request, work)

    async def _release_hold(self, request: web.Request) -> web.Response:
        reference = request.match_info["reference"]

        def work(_: Any) -> web.Response:
            hold = self.holds.get(reference)
            if hold is None:
                return self.error(404, "unknown_hold")
            state = self._state(hold)
            if state == "confirmed":
                return self.error(409, "already_confirmed")
            if state == "held":
                hold.state = "released"
                self.made["release"] += 1
            return web.json_response({"reference": hold.reference, "status": hold.state})

        return await self._serve("release", request, work)

    async def _cancel(self, request: web.Request) -> web.Response:
        reference = request.match_info["reference"]

        def work(_: Any) -> web.Response:
            hold = self.holds.get(reference)
            if hold is None:
                return self.error(404, "unknown_booking")
            state = self._state(hold)
            if state not in ("confirmed", "cancelled"):
                return self.error(409, "not_confirmed")
            if state == "confirmed":
                hold.state = "cancelled"
                self.made["cancel"] += 1
            return web.json_response({"reference": hold.reference, "status": "cancelled"})

        return await self._serve("cancel", request, work)

    async def _cancel_passenger(self, request: web.Request) -> web.Response:
        reference, passenger = request.match_info["reference"], request.match_info["passenger_id"]

        def work(_: Any) -> web.Response:
            hold = self.holds.get(reference)
            if hold is None or passenger not in {p.get("passenger_id") for p in hold.passengers}:
                return self.error(404, "unknown_passenger")
            if self._state(hold) != "confirmed":
                return self.error(409, "not_confirmed")
            if passenger not in hold.cancelled:
                hold.cancelled.append(passenger)
                hold.seats -= 1
                self.made["cancel_passengers"] += 1
            return web.json_response(
                {"reference": reference, "passenger_id": passenger, "status": "cancelled"}
            )

        return await self._serve("cancel_passengers", request, work)


def _valid_passengers(passengers: Any, seats: int) -> bool:
    return (
        isinstance(passengers, list)
        and len(passengers) == seats
        and all(
            isinstance(p, dict)
            and isinstance(p.get("passenger_id"), str)
            and all(isinstance(p.get(k), str) and p[k] for k in REQUIRED_PASSENGER_FIELDS)
            for p in passengers
        )
    )


def _hold_json(hold: CarrierHoldState) -> dict[str, Any]:
    return {
        "hold_id": hold.hold_id,
        "reference": hold.reference,
        "sailing": hold.sailing,
        "fare_class": hold.fare_class,
        "seats": hold.seats,
        "status": hold.state,
        "expires_at": hold.expires_at.isoformat(),
    }


def _booking_json(hold: CarrierHoldState) -> dict[str, Any]:
    return {"booking_id": hold.booking_id, "reference": hold.reference, "status": "confirmed"}
