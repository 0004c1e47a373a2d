"""Who may call what: every protected endpoint, each wrong credential kind, each wrong scope.

Each row is one request by one principal and the status it must get. Rider B asking for rider
A's objects gets 404 (not 403: ids are not confirmed to exist); a credential of the wrong kind
gets 403; no, a revoked or an expired credential gets 401; a device or counter outside its scope
gets 403 on scoped paths and 404 for objects it may not know of. Positive rows (the right
principal) show that each denial is the authorisation, not a broken path.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.appointments.conftest import BY_VIDEO, DAY_AFTER, HENGQIN, SOCIAL, TOMORROW, VIDEO, Desk, at
from tests.support import FAR_AHEAD, START, Api
from tests.travel.conftest import HKID, Trip, signed_in_with_wallet

OTHER_CENTRE = VIDEO
OTHER_CARRIER = "xrl"
OPERATOR = "mtr"
OTHER_OPERATOR = "kmb"
MACAO_ID = {
    "type": "macao_id",
    "holder_name": "CHAN Tai Man",
    "number": "1234567(8)",
    "issuing": "MO",
    "expires": FAR_AHEAD,
}


@dataclass
class World:
    """Rider A's objects, and a token of every kind (None: no Authorization header)."""

    api: Api
    tokens: dict[str, str | None] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)

    def as_(self, who: str) -> Api:
        return self.api.as_(self.tokens[who])


async def _principals(api: Api, services: Any, pg: Any, carrier: str, centre: str) -> dict[str, str | None]:
    creds = services.credentials

    async def token(kind: str, scope: str) -> str:
        return (await creds.issue(kind, scope)).token

    revocable = (("carrier", carrier), ("counter", centre), ("display", centre))
    revoked = {kind: await creds.issue(kind, scope) for kind, scope in revocable}
    for issued in revoked.values():
        await creds.revoke(issued.credential.id)
    expired = {kind: await creds.issue(kind, scope) for kind, scope in revocable}
    # Expired yesterday, set before first use (no worker has cached trust in them).
    now = creds.clock.now()
    await pg.execute(
        "UPDATE credentials SET created_at = $2, expires_at = $3 WHERE id = ANY($1::text[])",
        [e.credential.id for e in expired.values()],
        now - timedelta(days=30),
        now - timedelta(days=1),
    )
    expired_rider = await api.sign_in("rider-a")
    await pg.execute(
        "UPDATE credentials SET created_at = $2, expires_at = $3 WHERE id = $1",
        expired_rider.token.split(".")[1],
        now - timedelta(days=60),
        now - timedelta(days=1),
    )
    revoked_rider = await api.sign_in("rider-a")
    status, _ = await revoked_rider.delete("/v1/auth/sessions/current")
    assert status == 204
    return {
        "none": None,
        "garbage": "bya.crd_nope." + "x" * 43,
        "gate": await token("gate", OPERATOR),
        "bound_gate": (await creds.issue("gate", OPERATOR, gate_id="g-bound", stations=["central"])).token,
        "operator": await token("operator", OPERATOR),
        "other_operator": await token("operator", OTHER_OPERATOR),
        "carrier": await token("carrier", carrier),
        "other_carrier": await token("carrier", OTHER_CARRIER),
        "counter": await token("counter", centre),
        "other_counter": await token("counter", OTHER_CENTRE),
        "display": await token("display", centre),
        "other_display": await token("display", OTHER_CENTRE),
        "admin": await token("admin", "all"),
        "revoked_rider": revoked_rider.token,
        "expired_rider": expired_rider.token,
        "revoked_carrier": revoked["carrier"].token,
        "revoked_counter": revoked["counter"].token,
        "expired_carrier": expired["carrier"].token,
        "expired_counter": expired["counter"].token,
        "revoked_display": revoked["display"].token,
        "expired_display": expired["display"].token,
    }


@pytest.fixture
async def travel_world(trip: Trip) -> World:
    """Rider A with a paid booking (one ticket), a held one, a document, a consent and a ride
    code; rider B with a wallet of their own."""
    rider_a = await signed_in_with_wallet(trip.api, "rider-a")
    rider_b = await signed_in_with_wallet(trip.api, "rider-b")
    doc = await trip.document(HKID, rider=rider_a)
    doc2 = await trip.document(
        {**HKID, "number": "B111111(1)", "holder_name": "Chan Siu Ming"}, rider=rider_a
    )
    departure = await trip.departure()
    status, paid = await trip.hold(departure, [doc], rider=rider_a)
    assert status == 201, paid
    status, paid = await rider_a.post(f"/v1/travel/bookings/{paid['id']}/payment")
    assert status == 200, paid
    status, held = await trip.hold(departure, [doc2], rider=rider_a)
    assert status == 201, held
    status, consent = await rider_a.post(
        "/v1/me/consents", {"destination": "MO", "purpose": "travel_booking"}
    )
    assert status in (200, 201), consent
    exports = trip.services.privacy.exports
    exports.settings = dataclasses.replace(exports.settings, export_inline_max_records=0)
    status, export = await rider_a.get("/v1/me/export")
    assert status == 202, export
    await exports.build_pending()
    world = World(trip.api)
    world.tokens = await _principals(trip.api, trip.services, trip.pg, "hzmb_bus", HENGQIN)
    world.tokens |= {"rider_a": rider_a.token, "rider_b": rider_b.token}
    world.ids = {
        "export": export["id"],
        "booking": paid["id"],
        "held": held["id"],
        "ticket": paid["tickets"][0]["id"],
        "payload": paid["tickets"][0]["payload"],
        "departure": departure,
        "other_departure": await trip.departure(OTHER_CARRIER, "wkl_futian"),
        "document": doc,
        "consent": consent["id"],
    }
    return world


@pytest.fixture
async def desk_world(desk: Desk, pg: Any) -> World:
    """Rider A's appointment at Hengqin today (booked yesterday for today 09:00; the clock moved on
    to its start), with its QR payload and reference."""
    rider_a = await desk.another_rider("rider-a")
    rider_b = await desk.another_rider("rider-b")
    status, doc = await rider_a.post("/v1/me/documents", MACAO_ID)
    assert status == 201, doc
    status, booked = await desk.book(at(TOMORROW, "09:00"), SOCIAL, rider_a, document_id=doc["id"])
    assert status == 201, booked
    desk.clock.set(datetime.fromisoformat(booked["start"]))
    world = World(desk.api)
    world.tokens = await _principals(desk.api, desk.services, pg, "hzmb_bus", HENGQIN)
    world.tokens |= {"rider_a": rider_a.token, "rider_b": rider_b.token}
    world.ids = {
        "appointment": booked["id"],
        "reference": booked["reference"],
        "qr": booked["qr"]["payload"],
        "now": desk.clock.now().isoformat(),
        "document": doc["id"],
    }
    return world


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    who: str
    status: int
    body: dict[str, Any] | None = None
    code: str | None = None
    hides: tuple[str, ...] = ()  # ids of rider A's objects that must not appear in the answer

    def __str__(self) -> str:
        return f"{self.method} {self.path} as {self.who} -> {self.status}"


NOT_RIDERS = ("gate", "operator", "carrier", "counter", "display", "admin")
UNAUTHENTICATED = ("none", "garbage", "revoked_rider", "expired_rider")


def rider_rows(method: str, path: str, owner_status: int, body: Any = None, *, own: bool = True) -> list[Row]:
    """A rider-only endpoint on rider A's object: A gets `owner_status`, B 404, others 401/403."""
    rows = [Row(method, path, "rider_a", owner_status, body)]
    if own:
        rows.append(Row(method, path, "rider_b", 404, body))
    rows += [Row(method, path, who, 401, body) for who in UNAUTHENTICATED]
    rows += [Row(method, path, who, 403, body, "wrong_credential_kind") for who in NOT_RIDERS]
    return rows


def list_rows(path: str, hides: tuple[str, ...]) -> list[Row]:
    """A rider's list: B gets 200 without A's objects."""
    return [*rider_rows("GET", path, 200, own=False), Row("GET", path, "rider_b", 200, hides=hides)]


BOARD = {"payload": "{payload}", "departure_id": "{departure}"}


def carrier_rows(method: str, path: str, body: Any, hides: tuple[str, ...] = ()) -> list[Row]:
    """A carrier endpoint on rider A's departure: its carrier and admins get 200, another
    carrier 403 out_of_scope, other kinds 403, no or dead credentials 401."""
    return [
        Row(method, path, "carrier", 200, body, hides=hides),
        Row(method, path, "admin", 200, body, hides=hides),
        Row(method, path, "other_carrier", 403, body, "out_of_scope"),
        *[Row(method, path, w, 401, body) for w in ("none", "garbage", "revoked_carrier", "expired_carrier")],
        *[
            Row(method, path, w, 403, body, "wrong_credential_kind")
            for w in ("rider_a", "rider_b", "gate", "operator", "counter", "display")
        ],
    ]


TRAVEL: list[Row] = [
    *rider_rows("GET", "/v1/travel/bookings/{booking}", 200),
    *list_rows("/v1/travel/bookings", ("booking", "held", "ticket", "payload")),
    *rider_rows("GET", "/v1/travel/tickets/{ticket}.png", 200),
    *rider_rows("POST", "/v1/travel/bookings/{held}/payment", 200),
    *rider_rows("POST", "/v1/travel/bookings/{booking}/cancellation", 200),
    *[
        r
        for r in rider_rows(
            "POST",
            "/v1/travel/bookings",
            201,
            {
                "departure_id": "{departure}",
                "fare_class": "standard",
                "passengers": [{"document_id": "{document}"}],
            },
            own=False,
        )
        if r.who != "rider_a"  # A holding again is the travel tests' business
    ],
    Row(
        "POST",
        "/v1/travel/bookings",
        "rider_b",
        400,
        {
            "departure_id": "{departure}",
            "fare_class": "standard",
            "passengers": [{"document_id": "{document}"}],
        },
        "invalid_request",  # "not one of your documents", as for an id that does not exist
    ),
    *rider_rows("GET", "/v1/me/documents/{document}", 200),
    *rider_rows("DELETE", "/v1/me/documents/{document}", 204),
    *list_rows("/v1/me/documents", ("document",)),
    *rider_rows("DELETE", "/v1/me/consents/{consent}", 200),
    *list_rows("/v1/me/consents", ("consent",)),
    *list_rows("/v1/me/data-transfers", ("booking",)),
    *list_rows("/v1/me/access-log", ("booking",)),  # the carrier read A's number for it
    # A's background export: B gets 404 for its progress and its file; B's own export (nothing
    # to build in the background: B has no records) names nothing of A's.
    *rider_rows("GET", "/v1/me/exports/{export}", 200),
    *rider_rows("GET", "/v1/me/exports/{export}/file", 200),
    *[r for r in list_rows("/v1/me/export", ("export", "booking", "document")) if r.who != "rider_a"],
    Row("GET", "/v1/me/export", "rider_a", 202),  # A has records: built in the background
    # Deleting: only a rider, for themselves (the confirmation is bound to the session asking).
    *rider_rows("POST", "/v1/me/deletion", 201, own=False),
    *rider_rows("DELETE", "/v1/me", 409, {"confirmation": "not-the-code"}, own=False),
    # Carrier devices board only their carrier's departures.
    Row("POST", "/v1/carrier/boardings", "carrier", 200, BOARD),
    Row("POST", "/v1/carrier/boardings", "admin", 200, BOARD),
    Row("POST", "/v1/carrier/boardings", "other_carrier", 403, BOARD, "out_of_scope"),
    *[Row("POST", "/v1/carrier/boardings", w, 401, BOARD) for w in ("none", "garbage")],
    *[Row("POST", "/v1/carrier/boardings", w, 401, BOARD) for w in ("revoked_carrier", "expired_carrier")],
    *[
        Row("POST", "/v1/carrier/boardings", w, 403, BOARD, "wrong_credential_kind")
        for w in ("rider_a", "gate", "operator", "counter", "display")
    ],
    # A carrier reads only its own departures' manifests and cancels only its own departures.
    *carrier_rows("GET", "/v1/carrier/departures/{departure}/manifest", None, hides=("document",)),
    *carrier_rows("POST", "/v1/carrier/departures/{departure}/cancellation", {"reason": "Typhoon signal 8"}),
    *rider_rows("POST", "/v1/travel/bookings/{booking}/move", 409, {}),  # not disrupted: nothing to move
    *rider_rows("POST", "/v1/travel/bookings/{booking}/passengers/{booking}.0/cancellation", 200),
]

CHECK_IN = "/v1/counter/appointments/{appointment}/check-in"
COUNTER_WRONG_KIND = ("rider_a", "gate", "operator", "carrier", "display", "admin")
COUNTER_UNAUTHENTICATED = ("none", "garbage", "revoked_counter", "expired_counter")


def counter_rows(
    method: str, path: str, body: Any, own: int, other: int, own_code: str | None = None, **kw: Any
) -> list[Row]:
    """A counter endpoint: the centre's own counter `own` (with `own_code`, a refusal past the
    authorisation), another centre's `other`."""
    return [
        Row(method, path, "counter", own, body, own_code),
        Row(method, path, "other_counter", other, body, **kw),
        *[Row(method, path, w, 401, body) for w in COUNTER_UNAUTHENTICATED],
        *[Row(method, path, w, 403, body, "wrong_credential_kind") for w in COUNTER_WRONG_KIND],
    ]


APPOINTMENTS: list[Row] = [
    *rider_rows("GET", "/v1/appointments/{appointment}", 200),
    *rider_rows("GET", "/v1/appointments/{appointment}.ics", 200),
    *rider_rows("GET", "/v1/appointments/{appointment}.png", 200),
    *rider_rows("POST", "/v1/appointments/{appointment}/cancellation", 409),  # it starts today
    # It started at 09:00, now: A is past authorisation, and refused by the appointment's time.
    *rider_rows("POST", "/v1/appointments/{appointment}/reschedule", 409, {"start": at(DAY_AFTER, "10:00")}),
    *list_rows("/v1/appointments", ("appointment", "reference")),
    Row(
        "POST",
        "/v1/appointments",
        "rider_b",
        404,
        {
            "centre_id": HENGQIN,
            "service_id": SOCIAL,
            "start": at(DAY_AFTER, "10:00"),
            "document_id": "{document}",
        },
        "document_not_found",
    ),
    Row(
        "GET",
        "/v1/counter/appointments?date=" + TOMORROW.isoformat(),
        "other_counter",
        200,
        hides=("appointment", "reference"),
    ),
    *counter_rows("GET", "/v1/counter/appointments?date=" + TOMORROW.isoformat(), None, 200, 200),
    # Hengqin's data stays in Macao: its own counter is past authorisation without the signed QR,
    # and refused for want of it (409 qr_required); with the QR, checked in.
    *counter_rows("POST", CHECK_IN, {}, 409, 404, "qr_required", code="appointment_not_found"),
    *counter_rows("POST", CHECK_IN, {"payload": "{qr}"}, 200, 404, code="appointment_not_found"),
    *counter_rows(
        "POST", "/v1/counter/check-ins", {"payload": "{qr}"}, 200, 404, code="appointment_not_found"
    ),
    *counter_rows(
        "POST",
        "/v1/counter/check-ins",
        {"reference": "{reference}"},
        409,
        404,
        "qr_required",
        code="appointment_not_found",
    ),
    *counter_rows(
        "POST", "/v1/counter/appointments/{appointment}/recall", None, 409, 404, code="appointment_not_found"
    ),
    *counter_rows(
        "POST",
        "/v1/counter/appointments/{appointment}/outcome",
        {"outcome": "no_show"},
        409,  # before the late grace ends: past authorisation, refused by the time
        404,
        code="appointment_not_found",
    ),
    *counter_rows("POST", "/v1/counter/queue/next", {"counter": "A3"}, 200, 404, code="counter_not_found"),
    # A desk closed for a time: the centre's own desk; another centre has no desk A3.
    *counter_rows(
        "POST",
        "/v1/counter/blocks",
        {"counter": "A3", "start": at(DAY_AFTER, "10:00"), "end": at(DAY_AFTER, "11:00"), "reason": "drill"},
        201,
        404,
        code="counter_not_found",
    ),
    *counter_rows("GET", "/v1/counter/blocks", None, 200, 200),
    # A walk-in for a service of the centre; another centre's counter does not offer it.
    *counter_rows(
        "POST", "/v1/counter/walk-ins", {"service_id": SOCIAL}, 201, 400, code="service_not_offered"
    ),
    # The hall display: the centre's counter or display credential; each other centre's sees its own.
    *[Row("GET", "/v1/counter/display", w, 200) for w in ("counter", "display")],
    *[
        Row("GET", "/v1/counter/display", w, 200, hides=("reference",))
        for w in ("other_counter", "other_display")
    ],
    *[
        Row("GET", "/v1/counter/display", w, 401)
        for w in (
            "none",
            "garbage",
            "revoked_counter",
            "expired_counter",
            "revoked_display",
            "expired_display",
        )
    ],
    *[
        Row("GET", "/v1/counter/display", w, 403, code="wrong_credential_kind")
        for w in ("rider_a", "gate", "operator", "carrier", "admin")
    ],
]

# A gate's scan and offline tap (the payload is no code: the answer is a 200 deny, or a tap
# rejected by index; what the rows test is who may send them).
SCAN = {"payload": "x", "gate_id": "g-bound", "station": "central", "direction": "in", "scanned_at": "{now}"}
TAP = {**SCAN, "tap_id": "g-bound:t-1"}
SETTLEMENT = f"/v1/operators/mtr/settlements?date={START.date()}"
TRANSIT: list[Row] = [
    Row("GET", SETTLEMENT, "operator", 200),
    Row("GET", SETTLEMENT, "admin", 200),
    Row("GET", SETTLEMENT, "other_operator", 403, code="out_of_scope"),
    *[
        Row("GET", SETTLEMENT, w, 403, code="wrong_credential_kind")
        for w in ("rider_a", "gate", "carrier", "counter", "display")
    ],
    Row("GET", SETTLEMENT, "none", 401),
    Row("GET", "/v1/operators/mtr/flagged-taps", "operator", 200),
    Row("GET", "/v1/operators/mtr/flagged-taps", "admin", 200),
    Row("GET", "/v1/operators/mtr/flagged-taps", "other_operator", 403, code="out_of_scope"),
    *[
        Row("GET", "/v1/operators/mtr/flagged-taps", w, 403, code="wrong_credential_kind")
        for w in ("rider_a", "gate", "bound_gate", "carrier", "counter")
    ],
    Row("GET", "/v1/operators/mtr/flagged-taps", "none", 401),
    *[
        Row(m, p, w, 403, b, "wrong_credential_kind")
        for m, p, b in (
            ("GET", "/v1/gate/keys", None),
            ("GET", "/v1/gate/denylist?since=0", None),
            ("POST", "/v1/gate/taps:batch", {"taps": []}),
        )
        for w in ("rider_a", "operator", "carrier", "counter", "display", "admin")
    ],
    Row("GET", "/v1/gate/keys", "gate", 200),
    Row("GET", "/v1/gate/keys", "bound_gate", 200),
    Row("GET", "/v1/gate/keys", "none", 401),
    # A gate-bound credential scans and uploads as its own gate, at its own stations only; an
    # operator-wide one (tests, demos) as any gate of its operator.
    *[
        Row("POST", "/v1/gate/scans", w, 403, SCAN, "wrong_credential_kind")
        for w in ("rider_a", "operator", "carrier", "counter", "admin")
    ],
    Row("POST", "/v1/gate/scans", "none", 401, SCAN),
    Row("POST", "/v1/gate/scans", "bound_gate", 200, SCAN),
    Row("POST", "/v1/gate/scans", "gate", 200, SCAN),
    Row("POST", "/v1/gate/scans", "bound_gate", 403, {**SCAN, "gate_id": "g-other"}, "wrong_gate"),
    Row("POST", "/v1/gate/scans", "gate", 200, {**SCAN, "gate_id": "g-other"}),
    Row("POST", "/v1/gate/scans", "bound_gate", 403, {**SCAN, "station": "admiralty"}, "wrong_station"),
    Row("POST", "/v1/gate/scans", "gate", 200, {**SCAN, "station": "admiralty"}),
    Row("POST", "/v1/gate/taps:batch", "bound_gate", 200, {"taps": [TAP]}),
    Row(
        "POST",
        "/v1/gate/taps:batch",
        "bound_gate",
        403,
        {"taps": [{**TAP, "gate_id": "g-other"}]},
        "wrong_gate",
    ),
    Row("POST", "/v1/gate/taps:batch", "gate", 200, {"taps": [{**TAP, "gate_id": "g-other"}]}),
    Row(
        "POST",
        "/v1/gate/taps:batch",
        "bound_gate",
        403,
        {"taps": [{**TAP, "tap_id": "g-other:t-1"}]},
        "wrong_gate",
    ),
    Row("POST", "/v1/gate/taps:batch", "gate", 200, {"taps": [{**TAP, "tap_id": "g-other:t-1"}]}),
    Row(
        "POST",
        "/v1/gate/taps:batch",
        "bound_gate",
        403,
        {"taps": [{**TAP, "station": "admiralty"}]},
        "wrong_station",
    ),
    *[
        Row(m, p, w, 403, b, "wrong_credential_kind")
        for m, p, b in (
            ("GET", "/v1/admin/credentials", None),
            ("POST", "/v1/admin/credentials", {"kind": "admin", "scope": "all"}),
            ("DELETE", "/v1/admin/credentials/crd_x", None),
            ("GET", "/v1/admin/refunds?status=stuck", None),
            ("GET", "/v1/admin/audit", None),
        )
        for w in ("rider_a", "gate", "operator", "carrier", "counter", "display")
    ],
    Row("GET", "/v1/admin/refunds?status=stuck", "admin", 200),
    Row("GET", "/v1/admin/refunds?status=stuck", "none", 401),
    Row("GET", "/v1/admin/audit", "admin", 200),
    Row("GET", "/v1/admin/audit", "none", 401),
    *[Row("GET", p, "rider_b", 404) for p in ("/v1/ride-codes/0123456789abcdef.png",)],
    *rider_rows("POST", "/v1/journeys/jny_none/repair", 404, {"exit_station": "x"}, own=False),
    *rider_rows("GET", "/v1/me", 200, own=False),
    *rider_rows("POST", "/v1/me/consents", 201, {"destination": "HK", "purpose": "appointment"}, own=False),
]


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    return value


async def _answer(world: World, row: Row) -> str | None:
    """None when the row holds, else what went wrong."""
    status, body = await world.as_(row.who).call(
        row.method, _fill(row.path, world.ids), json=_fill(row.body, world.ids)
    )
    if status != row.status:
        return f"{row}: got {status} {body!r:.300}"
    if row.code is not None and body["error"]["code"] != row.code:
        return f"{row}: code {body['error']['code']}"
    text = body.decode("latin-1") if isinstance(body, bytes) else str(body)
    leaked = [name for name in row.hides if world.ids[name] in text]
    return f"{row}: shows rider A's {leaked}" if leaked else None


@dataclass(frozen=True)
class Endpoint:
    """The rows of one request (method, path, body): denials first, then the ones that succeed,
    since a success may change what the next row would see (a payment, a deletion)."""

    rows: tuple[Row, ...]

    def __str__(self) -> str:
        first = self.rows[0]
        return f"{first.method} {first.path}" + (f" {first.body}" if first.body else "")


def by_endpoint(rows: list[Row]) -> list[Endpoint]:
    groups: dict[str, list[Row]] = {}
    for row in rows:
        groups.setdefault(f"{row.method} {row.path} {row.body}", []).append(row)
    return [Endpoint(tuple(sorted(g, key=lambda r: r.status < 300))) for g in groups.values()]


async def _check(world: World, endpoint: Endpoint) -> None:
    failures = [f for f in [await _answer(world, row) for row in endpoint.rows] if f]
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("endpoint", by_endpoint(TRAVEL), ids=str)
async def test_travel(travel_world: World, endpoint: Endpoint) -> None:
    await _check(travel_world, endpoint)


@pytest.mark.parametrize("endpoint", by_endpoint(APPOINTMENTS), ids=str)
async def test_appointments_and_counters(desk_world: World, endpoint: Endpoint) -> None:
    await _check(desk_world, endpoint)


@pytest.mark.parametrize("endpoint", by_endpoint(TRANSIT), ids=str)
async def test_transit_profile_and_admin(desk_world: World, endpoint: Endpoint) -> None:
    await _check(desk_world, endpoint)


async def test_another_centres_counter_never_calls_the_person(desk_world: World) -> None:
    world = desk_world
    status, _ = await world.as_("counter").post(
        f"/v1/counter/appointments/{world.ids['appointment']}/check-in", {"payload": world.ids["qr"]}
    )
    assert status == 200
    status, body = await world.as_("other_counter").post("/v1/counter/queue/next", {"counter": "V2"})
    assert (status, body["appointment"]) == (200, None)
    status, body = await world.as_("counter").post("/v1/counter/queue/next", {"counter": "A3"})
    assert (status, body["appointment"]["id"]) == (200, world.ids["appointment"])


async def test_counters_see_the_name_and_the_masked_number_only(desk: Desk) -> None:
    """At a centre the applicant's data is sent to (the video counters: MO -> CN)."""
    video = dataclasses.replace(desk, centre=VIDEO, service=BY_VIDEO)
    rider = await video.another_rider("mo-resident-video")
    status, doc = await rider.post("/v1/me/documents", MACAO_ID)
    assert status == 201, doc
    status, booked = await video.book(at(TOMORROW, "09:00"), rider=rider, document_id=doc["id"])
    assert status == 201, booked
    video.clock.set(datetime.fromisoformat(booked["start"]))
    counter = await video.counter()
    status, checked = await counter.post("/v1/counter/check-ins", {"payload": booked["qr"]["payload"]})
    assert (status, set(checked)) == (200, {"appointment_id", "queue_number", "status"})
    _, called = await counter.post("/v1/counter/queue/next", {"counter": "V1"})
    _, recalled = await counter.post(f"/v1/counter/appointments/{booked['id']}/recall")
    _, day = await counter.get(f"/v1/counter/appointments?date={TOMORROW}")
    for person in (called["appointment"], recalled, day["items"][0]):
        assert person["holder_name"] == MACAO_ID["holder_name"]
        assert person["number_masked"] and person["number_masked"] != MACAO_ID["number"]
        assert not {"user_id", "document_id", "number", "seat", "qr_version"} & set(person)
        assert "234567" not in str(person)


async def test_counters_where_the_data_stays_home_see_no_name_nor_number(desk_world: World) -> None:
    """Hengqin (data_stays_in MO): the same answers with neither the name nor the masked number."""
    world = desk_world
    counter = world.as_("counter")
    appointment = world.ids["appointment"]
    status, checked = await counter.post("/v1/counter/check-ins", {"payload": world.ids["qr"]})
    assert (status, set(checked)) == (200, {"appointment_id", "queue_number", "status"})
    _, called = await counter.post("/v1/counter/queue/next", {"counter": "A3"})
    _, recalled = await counter.post(f"/v1/counter/appointments/{appointment}/recall")
    _, day = await counter.get(f"/v1/counter/appointments?date={TOMORROW}")
    for person in (called["appointment"], recalled, day["items"][0]):
        assert person["id"] == appointment
        assert person["holder_name"] is None and person["number_masked"] is None
        assert not {"user_id", "document_id", "number", "seat", "qr_version"} & set(person)
        assert "234567" not in str(person) and "CHAN" not in str(person)


async def test_a_boarding_answer_names_its_passenger_masked_and_nothing_more(travel_world: World) -> None:
    """Staff check the face against the document (issue 10): the name, the document's type and
    its masked number, for the carrier's own departure; never the clear number or our ids."""
    world = travel_world
    body = {"payload": world.ids["payload"], "departure_id": world.ids["departure"]}
    status, answer = await world.as_("carrier").post("/v1/carrier/boardings", body)
    assert status == 200 and set(answer) == {"decision", "reason", "ticket_id", "passenger"}
    assert set(answer["passenger"]) == {"name", "document_type", "document_masked"}
    assert answer["passenger"]["document_masked"] == "A*****6(3)"
    assert "123456" not in str(answer) and world.ids["document"] not in str(answer)
    status, _ = await world.as_("other_carrier").post("/v1/carrier/boardings", body)
    assert status == 403


async def test_another_riders_object_is_404_like_one_that_does_not_exist(travel_world: World) -> None:
    """Ids are not confirmed to exist: B gets for A's booking exactly what a made-up id gets."""
    rider_b = travel_world.as_("rider_b")
    mine = await rider_b.get(f"/v1/travel/bookings/{travel_world.ids['booking']}")
    made_up = await rider_b.get("/v1/travel/bookings/bkg_01M8MYR1N5QGEJV3Y0NCK590XX")
    assert mine[0] == made_up[0] == 404
    assert mine[1]["error"]["code"] == made_up[1]["error"]["code"]
    assert mine[1]["error"]["details"] == made_up[1]["error"]["details"] == {}
