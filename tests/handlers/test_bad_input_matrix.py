"""Bad input to the travel, appointment and data-transfer endpoints: always a 4xx in the
contract's error shape, never a 500."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bayaffairs.handlers.keys import SERVICES
from tests.support import FAR_AHEAD, START, Api

DAY = START.date() + timedelta(days=1)
GARBAGE_BODIES: list[Any] = [None, [], "text", 7, {"unexpected": 1}]

REQUESTS: list[tuple[str, str, Any]] = [
    ("get", "/v1/travel/departures?date=2026-13-40", None),
    ("get", "/v1/travel/departures?mode=submarine&limit=0", None),
    ("get", "/v1/travel/departures?limit=100000&cursor=%00%ff", None),
    ("get", "/v1/travel/bookings/bkg_nope", None),
    ("get", "/v1/travel/bookings?cursor=zzz&limit=-1", None),
    ("post", "/v1/travel/bookings/bkg_nope/payment", None),
    ("post", "/v1/travel/bookings/bkg_nope/cancellation", None),
    ("get", "/v1/travel/tickets/tkt_00000000000000000000.png", None),
    ("post", "/v1/travel/bookings", {"departure_id": "x" * 5000, "fare_class": "", "passengers": [{}]}),
    (
        "post",
        "/v1/travel/bookings",
        {"departure_id": "d", "fare_class": "economy", "passengers": [{"document_id": 1}] * 50},
    ),
    ("get", f"/v1/centres/nowhere/slots?service=x&date={DAY}", None),
    ("get", "/v1/centres/hengqin_gasc/slots?date=yesterday", None),
    ("get", f"/v1/centres/hengqin_gasc/slots?from={DAY + timedelta(days=9)}&to={DAY}", None),
    ("get", f"/v1/centres/hengqin_gasc/slots?from={DAY}&days=100000", None),
    (
        "post",
        "/v1/appointments",
        {"centre_id": "hengqin_gasc", "service_id": "x", "start": f"{DAY}T09:00"},
    ),
    ("post", "/v1/appointments", {"centre_id": "nowhere", "service_id": "x", "start": "not a time"}),
    ("post", "/v1/appointments/apt_nope/reschedule", {"start": f"{DAY}T09:00:00+08:00"}),
    ("post", "/v1/appointments/apt_nope/cancellation", None),
    ("get", "/v1/appointments/apt_nope.ics", None),
    ("get", "/v1/me/data-transfers?limit=abc", None),
    ("get", "/v1/me/data-transfers?limit=0", None),
    # A query parameter given twice, where the document has one value (found by tests/fuzz: the
    # first was used, the others ignored)
    ("get", "/v1/travel/bookings?limit=5&limit=7", None),
    ("get", "/v1/travel/departures?origin=hzmb_hk_port&origin=hzmb_macao_port", None),
    # A NUL character, which PostgreSQL text cannot hold, in a query, a path and a body (found by
    # tests/fuzz: the departures search answered 500)
    ("get", "/v1/travel/departures?origin=hzmb%00hk&destination=x%00", None),
    ("get", "/v1/me/documents/doc_%00", None),
    ("get", "/v1/travel/bookings/bkg%00x", None),
    ("post", "/v1/me/consents", {"destination": "C\u0000N", "purpose": "appointment"}),
    (
        "post",
        "/v1/me/documents",
        {
            "type": "passport",
            "holder_name": "A\u0000B",
            "number": "X1234567",
            "issuing": "GB",
            "expires": FAR_AHEAD,
        },
    ),
]


@pytest.mark.parametrize(("method", "path", "body"), REQUESTS, ids=[f"{m} {p[:60]}" for m, p, _ in REQUESTS])
async def test_bad_input_is_a_4xx_in_the_error_shape(api: Api, method: str, path: str, body: Any) -> None:
    rider = await api.sign_in("bad-input")
    kwargs = {} if body is None or method == "get" else {"json": body}
    status, answer = await getattr(rider, method)(path, **kwargs)
    assert 400 <= status < 500, (status, answer)
    assert isinstance(answer["error"]["code"], str) and answer["error"]["message"]


@pytest.mark.parametrize("body", GARBAGE_BODIES, ids=repr)
@pytest.mark.parametrize(
    "path",
    ["/v1/travel/bookings", "/v1/appointments", "/v1/me/consents"],
)
async def test_a_body_that_is_not_the_expected_object_is_400(api: Api, path: str, body: Any) -> None:
    rider = await api.sign_in("bad-body")
    status, answer = await rider.post(path, body)
    assert status == 400, (status, answer)
    assert answer["error"]["code"] in ("invalid_request", "malformed_json")


# Dates and times past Python's last year (9999) once converted, or at its first: a 400
# invalid_request from the one bounded field every schema uses (years 2000 to 2100), never
# an OverflowError's 500 (issue 11 review finding 5). (credential kind and scope, or None for
# a rider; method; path; body)
LAST_NIGHT = "9999-12-31T23:00:00-05:00"  # 10000-01-01 in UTC
FAR_DATES: list[tuple[tuple[str, str] | None, str, str, Any]] = [
    (
        None,
        "get",
        "/v1/centres/hengqin_gasc/slots?service=mo_commercial_registration&from=9999-12-31&days=2",
        None,
    ),
    (None, "get", "/v1/centres/hengqin_gasc/slots?service=mo_commercial_registration&date=9999-12-31", None),
    (
        None,
        "get",
        "/v1/centres/hengqin_gasc/slots?service=mo_commercial_registration&from=0001-01-01&to=0001-01-02",
        None,
    ),
    (
        None,
        "post",
        "/v1/appointments",
        {"centre_id": "hengqin_gasc", "service_id": "mo_commercial_registration", "start": LAST_NIGHT},
    ),
    (
        None,
        "post",
        "/v1/appointments",
        {
            "centre_id": "hengqin_gasc",
            "service_id": "mo_commercial_registration",
            "start": "0001-01-01T00:00:00+08:00",
        },
    ),
    (None, "post", f"/v1/appointments/apt_{'0' * 26}/reschedule", {"start": LAST_NIGHT}),
    (None, "get", "/v1/travel/departures?date=9999-12-31", None),
    (
        None,
        "post",
        "/v1/me/documents",
        {
            "type": "passport",
            "holder_name": "A B",
            "number": "X1234567",
            "issuing": "GB",
            "expires": "9999-12-31",
        },
    ),
    (
        None,
        "post",
        "/v1/me/documents",
        {
            "type": "passport",
            "holder_name": "A B",
            "number": "X1234567",
            "issuing": "GB",
            "expires": FAR_AHEAD,
            "date_of_birth": "0001-01-01",
        },
    ),
    (
        ("counter", "hengqin_gasc"),
        "post",
        "/v1/counter/blocks",
        {"start": "9999-12-31T20:00:00-05:00", "end": LAST_NIGHT, "reason": "x"},
    ),
    (
        ("counter", "hengqin_gasc"),
        "post",
        "/v1/counter/blocks",
        {"start": "0001-01-01T00:00:00+08:00", "end": "0001-01-01T01:00:00+08:00", "reason": "x"},
    ),
    (("counter", "hengqin_gasc"), "get", "/v1/counter/appointments?date=9999-12-31", None),
    (
        ("gate", "shenzhen_metro"),
        "post",
        "/v1/gate/scans",
        {"payload": "x", "gate_id": "g1", "station": "S1", "direction": "in", "scanned_at": LAST_NIGHT},
    ),
    (("admin", "all"), "get", f"/v1/admin/audit?since={LAST_NIGHT}", None),
    (("operator", "shenzhen_metro"), "get", "/v1/operators/shenzhen_metro/settlements?date=9999-12-31", None),
]


@pytest.mark.parametrize(
    ("credential", "method", "path", "body"),
    FAR_DATES,
    ids=[f"{c[0] if c else 'rider'} {m} {p[:70]} {str(b)[-40:]}" for c, m, p, b in FAR_DATES],
)
async def test_a_date_out_of_the_years_we_take_is_a_400(
    api: Api, credential: tuple[str, str] | None, method: str, path: str, body: Any
) -> None:
    if credential is None:
        caller = await api.sign_in("far-dates")
    else:
        services = api.client.server.app[SERVICES]
        caller = api.as_((await services.credentials.issue(*credential)).token)
    kwargs = {} if body is None else {"json": body}
    status, answer = await getattr(caller, method)(path, **kwargs)
    assert (status, answer["error"]["code"]) == (400, "invalid_request"), answer
    assert "Must be in the years" in str(answer["error"]["details"]), answer
