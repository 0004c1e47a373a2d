"""Search and holds through the API: shapes, document rules, consent, bad input, idempotency."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from tests.support import Api
from tests.travel.conftest import HKID, HRP, PERMIT, Trip, hzmb_fare, signed_in_with_wallet

pytestmark = pytest.mark.at_two_instants


async def test_routes_list_ports_per_mode_and_carrier(trip: Trip) -> None:
    status, body = await trip.api.get("/v1/travel/routes", headers={"Accept-Language": "zh-Hant"})
    assert status == 200
    modes = {r["mode"] for r in body["items"]}
    assert modes == {"rail", "coach", "ferry", "bridge_bus"}
    xrl = next(r for r in body["items"] if r["id"] == "xrl.wkl_futian")
    assert xrl["origin"]["name"] == "香港西九龍" and xrl["destination"]["region"] == "CN"
    _, buses = await trip.api.get("/v1/travel/routes?mode=bridge_bus")
    assert {r["carrier"] for r in buses["items"]} == {"hzmb_bus"}


async def test_departures_show_seats_and_fares_in_carrier_and_wallet_currency(trip: Trip) -> None:
    mop_rider = await signed_in_with_wallet(trip.api, "macanese", "MOP")
    query = "/v1/travel/departures?origin=hzmb_hk_port&destination=hzmb_macao_port&limit=3"
    status, body = await mop_rider.get(query)
    assert status == 200 and len(body["items"]) == 3 and body["next_cursor"]
    fare = body["items"][0]["fares"][0]
    assert fare["fare"]["currency"] == "HKD" and fare["wallet_fare"]["currency"] == "MOP"
    assert fare["wallet_fare"]["amount"] > fare["fare"]["amount"]  # MOP is worth less than HKD
    assert fare["seats_remaining"] == 50
    assert body["items"][0]["departs_at"].endswith("+08:00")
    _, anonymous = await trip.api.get(query)
    assert anonymous["items"][0]["fares"][0]["wallet_fare"] is None
    _, page2 = await trip.api.get(query + f"&cursor={body['next_cursor']}")
    assert page2["items"][0]["departs_at"] > body["items"][-1]["departs_at"]


async def test_departures_of_one_date_and_mode(trip: Trip) -> None:
    day = (trip.clock.today() + timedelta(days=1)).isoformat()  # a Hong Kong date
    status, body = await trip.api.get(f"/v1/travel/departures?date={day}&mode=rail&limit=200")
    assert status == 200 and body["items"]
    assert {d["mode"] for d in body["items"]} == {"rail"}
    assert {d["departs_at"][:10] for d in body["items"]} == {day}


async def test_a_hold_answers_held_with_expiry_and_total_and_takes_the_seats(trip: Trip) -> None:
    departure = await trip.departure()
    docs = [
        await trip.document(HKID),
        await trip.document({**HKID, "number": "B111111(1)", "holder_name": "Chan Siu Ming"}),
    ]
    status, body = await trip.hold(departure, docs)
    assert status == 201, body
    fare = hzmb_fare(await trip.departs_at(departure))  # by day, or at night from 01:00 (04:00)
    assert body["status"] == "held" and body["total"] == {"amount": 2 * fare, "currency": "HKD"}
    assert [p["name"] for p in body["passengers"]] == ["Chan Tai Man", "Chan Siu Ming"]
    expires = body["expires_at"]
    assert expires > trip.clock.now().isoformat()
    assert await trip.seats(departure) == (50, 2, 0)
    _, listed = await trip.rider.get("/v1/travel/bookings")
    assert [b["id"] for b in listed["items"]] == [body["id"]]


async def test_a_booking_says_when_and_from_where_to_where_in_the_riders_language(trip: Trip) -> None:
    departure = await trip.departure()
    status, held = await trip.hold(departure, [await trip.document(HKID)])
    assert status == 201, held
    departs_at = await trip.departs_at(departure)
    _, zh = await trip.rider.get("/v1/travel/bookings", headers={"Accept-Language": "zh-Hant"})
    _, en = await trip.rider.get(f"/v1/travel/bookings/{held['id']}")
    for body in (held, zh["items"][0], en):
        assert body["departs_at"].endswith("+08:00")  # the port's wall clock
        assert datetime.fromisoformat(body["departs_at"]) == departs_at
        assert datetime.fromisoformat(body["arrives_at"]) == departs_at + timedelta(minutes=40)
        assert (body["origin"], body["destination"]) == ("hzmb_hk_port", "hzmb_macao_port")
    assert (held["origin_name"], held["destination_name"]) == ("HZMB Hong Kong Port", "HZMB Macao Port")
    assert (en["origin_name"], en["destination_name"]) == ("HZMB Hong Kong Port", "HZMB Macao Port")
    assert (zh["items"][0]["origin_name"], zh["items"][0]["destination_name"]) == (
        "港珠澳大橋香港口岸",
        "港珠澳大橋澳門口岸",
    )


async def test_a_mainland_resident_needs_consent_before_data_goes_to_a_hong_kong_carrier(trip: Trip) -> None:
    departure = await trip.departure("xrl", "futian_wkl")
    permit = await trip.document(PERMIT)
    status, body = await trip.hold(departure, [permit], "second")
    assert (status, body["error"]["code"]) == (403, "consent_required")
    assert await trip.seats(departure, "second") == (500, 0, 0)
    await trip.rider.post("/v1/me/consents", {"destination": "HK", "purpose": "travel_booking"})
    status, booking = await trip.hold(departure, [permit], "second")
    assert status == 201, booking
    status, paid = await trip.rider.post(f"/v1/travel/bookings/{booking['id']}/payment")
    assert status == 200 and paid["status"] == "confirmed"
    _, transfers = await trip.rider.get("/v1/me/data-transfers")
    (record,) = transfers["items"]
    assert record["recipient"] == "xrl" and record["origin"] == "CN" and record["destination"] == "HK"
    assert set(record["fields"]) == {"holder_name", "document_type", "document_number"}


@pytest.mark.parametrize(
    ("route", "document", "reason"),
    [
        ("wkl_futian", HKID, "hkid_not_accepted_for_hk_to_cn"),
        ("futian_wkl", {**PERMIT, "endorsements": []}, "no_valid_endorsement_for_hk"),
        ("wkl_futian", {**HRP, "expires": "in 30 days"}, None),  # expiring soon, after travel
    ],
)
async def test_a_document_that_does_not_allow_the_crossing_names_the_passenger_and_why(
    trip: Trip, route: str, document: dict[str, Any], reason: str | None
) -> None:
    await trip.rider.post("/v1/me/consents", {"destination": "HK", "purpose": "travel_booking"})
    departure = await trip.departure("xrl", route)
    if document["expires"] == "in 30 days":
        document = {**document, "expires": (trip.clock.now() + timedelta(days=30)).date().isoformat()}
    good = await trip.document(HRP if route == "wkl_futian" else PERMIT)
    other = await trip.document(
        {
            **document,
            "holder_name": "Second Passenger",
            "number": "H87654321"
            if document["type"] == "home_return_permit"
            else document["number"].replace("C12345678", "C87654321"),
        }
    )
    status, body = await trip.hold(departure, [good, other], "second")
    if reason is None:
        assert status == 201, body
        return
    assert status == 400 and body["error"]["code"] == "document_not_accepted"
    details = body["error"]["details"]
    assert (details["passenger"], details["document_id"], details["reason"]) == (1, other, reason)
    assert "passengers.1.document_id" in details["fields"]
    assert body["error"]["message"].startswith("The document of passenger 2 (passengers.1) ")
    assert await trip.seats(departure, "second") == (500, 0, 0)


async def test_a_document_expiring_before_the_travel_date_is_refused(trip: Trip) -> None:
    bay = timezone(timedelta(hours=8))
    today = trip.clock.now().astimezone(bay).date()
    departure = await trip.pg.fetchval(
        "SELECT id FROM travel_departures WHERE carrier = 'xrl' AND route = 'wkl_futian'"
        " AND (departs_at AT TIME ZONE 'Asia/Hong_Kong')::date > $1 ORDER BY departs_at LIMIT 1",
        today,
    )
    expiring = await trip.document({**HRP, "expires": today.isoformat()})
    status, body = await trip.hold(departure, [expiring], "second")
    assert status == 400, body
    assert (body["error"]["code"], body["error"]["details"]["reason"]) == (
        "document_not_accepted",
        "document_expires_before_travel",
    )


BAD_BODIES: list[tuple[str, Any]] = [
    ("missing everything", {}),
    ("passengers empty", {"fare_class": "standard", "passengers": []}),
    ("passenger not an object", {"fare_class": "standard", "passengers": ["doc"]}),
    ("unknown field", {"fare_class": "standard", "passengers": [{"document_id": "x"}], "seat": "1A"}),
    (
        "departure not a string",
        {"departure_id": 7, "fare_class": "standard", "passengers": [{"document_id": "x"}]},
    ),
    (
        "huge departure id",
        {"departure_id": "x" * 5000, "fare_class": "standard", "passengers": [{"document_id": "x"}]},
    ),
]


@pytest.mark.parametrize(("case", "body"), BAD_BODIES, ids=[c for c, _ in BAD_BODIES])
async def test_malformed_bodies_are_400_with_field_details(
    trip: Trip, case: str, body: dict[str, Any]
) -> None:
    departure = await trip.departure()
    body = (
        {"departure_id": departure, **body}
        if "departure_id" not in body and case != "missing everything"
        else body
    )
    status, answer = await trip.rider.post("/v1/travel/bookings", body)
    assert status == 400, answer
    assert answer["error"]["details"]["fields"]


async def test_bad_passengers_are_400_naming_the_field(trip: Trip) -> None:
    departure = await trip.departure()
    mine = await trip.document(HKID)
    stranger = await signed_in_with_wallet(trip.api, "stranger")
    theirs = await trip.document({**HKID, "number": "B111111(1)"}, rider=stranger)
    many = [
        await trip.document({**HKID, "number": f"C{i:06d}({_check('C', i)})", "holder_name": f"P{i}"})
        for i in range(10)
    ]
    cases = [
        ([mine, mine], "passengers.1.document_id"),
        ([mine, theirs], "passengers.1.document_id"),
        ([mine, "doc_does_not_exist"], "passengers.1.document_id"),
        (many, "passengers"),
    ]
    for docs, field in cases:
        status, body = await trip.hold(departure, docs)
        assert status == 400 and field in body["error"]["details"]["fields"], (docs, body)
    status, body = await trip.hold(departure, [mine], "first")
    assert status == 400 and "fare_class" in body["error"]["details"]["fields"]
    assert await trip.seats(departure) == (50, 0, 0)


def _check(prefix: str, number: int) -> str:
    digits = f"{number:06d}"
    values = [36, ord(prefix) - 55] + [int(d) for d in digits]
    total = sum(v * w for v, w in zip(values, range(9, 1, -1), strict=True))
    remainder = (11 - total % 11) % 11
    return "A" if remainder == 10 else str(remainder)


async def test_unknown_departure_is_404_and_a_departed_one_400(trip: Trip) -> None:
    mine = await trip.document(HKID)
    status, body = await trip.hold("hzmb_bus.hk_macao.20200101.0800", [mine])
    assert (status, body["error"]["code"]) == (404, "departure_not_found")
    status, body = await trip.hold("not-even-an-id", [mine])
    assert status == 404
    departure = await trip.departure(hours=1)
    trip.clock.advance(hours=2)
    status, body = await trip.hold(departure, [mine])
    assert (status, body["error"]["code"]) == (400, "departure_departed")
    assert "departure_id" in body["error"]["details"]["fields"]


async def test_bookings_are_the_riders_own(trip: Trip) -> None:
    departure = await trip.departure()
    _, booking = await trip.hold(departure, [await trip.document(HKID)])
    stranger = await signed_in_with_wallet(trip.api, "stranger")
    for method, path in [
        ("GET", f"/v1/travel/bookings/{booking['id']}"),
        ("POST", f"/v1/travel/bookings/{booking['id']}/payment"),
        ("POST", f"/v1/travel/bookings/{booking['id']}/cancellation"),
    ]:
        status, body = await stranger.call(method, path)
        assert status == 404, (path, body)
    _, theirs = await stranger.get("/v1/travel/bookings")
    assert theirs["items"] == []
    assert (await trip.api.as_(None).post("/v1/travel/bookings", {}))[0] == 401
    gate = await trip.services.credentials.issue("gate", "mtr")
    status, body = await trip.api.as_(gate.token).get("/v1/travel/bookings")
    assert (status, body["error"]["code"]) == (403, "wrong_credential_kind")
    assert await trip.seats(departure) == (50, 1, 0)


async def test_the_same_key_and_body_replays_the_first_answer(trip: Trip) -> None:
    departure = await trip.departure()
    mine = await trip.document(HKID)
    key = {"Idempotency-Key": "hold-1"}
    first = await trip.hold(departure, [mine], headers=key)
    again = await trip.hold(departure, [mine], headers=key)
    assert first[0] == again[0] == 201 and first[1] == again[1]
    status, body = await trip.rider.post(
        "/v1/travel/bookings",
        {
            "departure_id": departure,
            "fare_class": "standard",
            "passengers": [{"document_id": mine}, {"document_id": mine}],
        },
        headers=key,
    )
    assert (status, body["error"]["code"]) == (422, "idempotency_key_reused")
    assert await trip.seats(departure) == (50, 1, 0)


async def test_concurrent_requests_with_one_key_make_one_booking(trip: Trip) -> None:
    departure = await trip.departure()
    mine = await trip.document(HKID)
    answers = await asyncio.gather(
        *(trip.hold(departure, [mine], headers={"Idempotency-Key": "same"}) for _ in range(10))
    )
    created = {body["id"] for status, body in answers if status == 201}
    assert len(created) == 1
    assert {status for status, _ in answers} <= {201, 409}
    assert await trip.pg.fetchval("SELECT count(*) FROM travel_bookings") == 1
    assert await trip.seats(departure) == (50, 1, 0)


async def test_holding_never_answers_500_for_odd_ids(trip: Api | Trip) -> None:
    assert isinstance(trip, Trip)
    mine = await trip.document(HKID)
    for departure_id in [
        "'; DROP TABLE travel_bookings; --",
        "a.b.c.d",
        "hzmb_bus.hk_macao.99999999.9999",
        "ü" * 40,
    ]:
        status, _ = await trip.hold(departure_id, [mine])
        assert status == 404


async def test_materialising_again_adds_nothing_and_keeps_the_seats_taken(trip: Trip) -> None:
    departure = await trip.departure()
    await trip.hold(departure, [await trip.document(HKID)])
    before = await trip.pg.fetchval("SELECT count(*) FROM travel_departures")
    assert before > 0
    assert await trip.services.travel.departures.materialise() == 0
    assert await trip.pg.fetchval("SELECT count(*) FROM travel_departures") == before
    assert await trip.seats(departure) == (50, 1, 0)
