"""Ride codes end to end: issue, scan in and out, fares, charging, denials, journeys, repair."""

from __future__ import annotations

import asyncio
import io
import os
from datetime import datetime, timedelta

import asyncpg
import pytest
import zxingcpp
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from PIL import Image

from bayaffairs.handlers.keys import SERVICES
from bayaffairs.transit.codes import base45
from bayaffairs.transit.codes import format as fmt
from bayaffairs.transit.codes.signatures import sign
from bayaffairs.transit.keyring import key_number
from tests.conftest import AppFactory
from tests.support import MovableClock, test_config
from tests.transit.conftest import Ride

pytestmark = pytest.mark.at_two_instants

METRO = "shenzhen_metro"
BUS = "shenzhen_bus"


async def test_a_code_has_the_contract_fields_and_renders_as_png_and_svg(ride: Ride) -> None:
    code = await ride.code("shenzhen")
    assert {"code_id", "payload", "expires_at", "refresh_after", "png_url", "svg_url"} <= set(code)
    assert len(base45.decode(code["payload"])) <= 200
    status, png = await ride.rider.get(code["png_url"])
    assert status == 200 and png.startswith(b"\x89PNG")
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)).convert("L"))
    assert decoded and decoded[0].text == code["payload"]
    status, svg = await ride.rider.get(code["svg_url"])
    assert status == 200 and b"<svg" in svg


async def test_another_rider_cannot_fetch_my_code_image(ride: Ride) -> None:
    code = await ride.code("shenzhen")
    stranger = await ride.api.sign_in("stranger")
    assert (await stranger.get(code["png_url"]))[0] == 404


async def test_no_wallet_no_code(ride: Ride) -> None:
    walletless = await ride.api.sign_in("walletless")
    status, body = await walletless.post("/v1/ride-codes", {"city": "shenzhen"})
    assert (status, body["error"]["code"]) == (403, "wallet_required")


async def test_unknown_city_is_400(ride: Ride) -> None:
    status, body = await ride.rider.post("/v1/ride-codes", {"city": "atlantis"})
    assert status == 400 and "city" in body["error"]["details"]["fields"]


async def test_tap_in_then_out_prices_the_journey_and_charges_the_wallet_currency(ride: Ride) -> None:
    gate = await ride.gate(METRO)
    entry, exit_ = ride.stops(METRO)[0], ride.stops(METRO)[-1]
    tapped_in = await ride.scan(gate, (await ride.code("shenzhen"))["payload"], entry)
    assert tapped_in["decision"] == "open" and tapped_in["journey_id"]
    ride.clock.advance(minutes=25)
    tapped_out = await ride.scan(gate, (await ride.code("shenzhen"))["payload"], exit_, "out")
    assert tapped_out["decision"] == "open"
    assert tapped_out["journey_id"] == tapped_in["journey_id"]
    assert tapped_out["fare"]["currency"] == "CNY" and tapped_out["fare"]["amount"] > 0
    assert tapped_out["charge"]["currency"] == "HKD"
    _, journeys = await ride.rider.get("/v1/journeys")
    journey = journeys["items"][0]
    assert (journey["status"], journey["entry_station"], journey["exit_station"]) == (
        "completed",
        entry,
        exit_,
    )
    assert journey["fare"] == tapped_out["fare"] and journey["charge"] == tapped_out["charge"]
    assert journey["fx_rate"] and journey["charge_status"] == "pending"
    # Shenzhen's wall times, as the rider rode (the instants are the clock's)
    assert journey["entry_at"].endswith("+08:00") and journey["exit_at"].endswith("+08:00")


async def test_the_charge_is_the_fare_times_the_stored_rate_rounded_half_up(ride: Ride) -> None:
    from decimal import ROUND_HALF_UP, Decimal

    gate = await ride.gate(METRO)
    stops = ride.stops(METRO)
    await ride.scan(gate, (await ride.code("shenzhen"))["payload"], stops[0])
    await ride.scan(gate, (await ride.code("shenzhen"))["payload"], stops[-1], "out")
    journey = (await ride.rider.get("/v1/journeys"))[1]["items"][0]
    expected = (Decimal(journey["fare"]["amount"]) * Decimal(journey["fx_rate"])).quantize(
        Decimal(1), ROUND_HALF_UP
    )
    assert journey["charge"]["amount"] == int(expected)


async def test_the_same_code_opens_one_tap_in_once(ride: Ride) -> None:
    gate = await ride.gate(METRO)
    payload = (await ride.code("shenzhen"))["payload"]
    station = ride.stops(METRO)[0]
    assert (await ride.scan(gate, payload, station))["decision"] == "open"
    again = await ride.scan(gate, payload, station, gate_id="g2")
    assert (again["decision"], again["reason"]) == ("deny", "replayed")
    # A fresh code opens no second journey: at another station it is refused; at this one, at
    # once, it is the same entry (a double tap, tests/transit/test_double_taps.py).
    elsewhere = ride.stops(METRO)[1]
    fresh = await ride.scan(gate, (await ride.code("shenzhen"))["payload"], elsewhere, gate_id="g3")
    assert (fresh["decision"], fresh["reason"]) == ("deny", "unfinished_journey")
    same = await ride.scan(gate, (await ride.code("shenzhen"))["payload"], station, gate_id="g4")
    assert (same["decision"], same["reason"]) == ("open", "double_tap")


async def test_a_replayed_code_after_tap_out_is_replayed(ride: Ride) -> None:
    bus_gate = await ride.gate(BUS)
    payload = (await ride.code("shenzhen"))["payload"]
    route = ride.stops(BUS)[0]
    assert (await ride.scan(bus_gate, payload, route))["decision"] == "open"
    again = await ride.scan(bus_gate, payload, route, gate_id="bus-2")
    assert (again["decision"], again["reason"]) == ("deny", "replayed")


async def test_two_gates_racing_on_one_code_open_once(ride: Ride, pg: asyncpg.Connection) -> None:
    gates = [await ride.gate(BUS) for _ in range(2)]
    payload = (await ride.code("shenzhen"))["payload"]
    route = ride.stops(BUS)[0]
    answers = await asyncio.gather(
        *(ride.scan(gates[i % 2], payload, route, gate_id=f"g{i}") for i in range(20))
    )
    assert [a["decision"] for a in answers].count("open") == 1
    assert {a["reason"] for a in answers if a["decision"] == "deny"} <= {"replayed", "unfinished_journey"}
    assert await pg.fetchval("SELECT count(*) FROM taps") == 1
    assert await pg.fetchval("SELECT count(*) FROM journeys") == 1


async def test_a_bus_charges_the_flat_fare_at_tap_in_and_refuses_tap_out(ride: Ride) -> None:
    gate = await ride.gate(BUS)
    route = ride.stops(BUS)[0]
    opened = await ride.scan(gate, (await ride.code("shenzhen"))["payload"], route)
    assert opened["decision"] == "open" and opened["fare"]["currency"] == "CNY"
    out = await ride.scan(gate, (await ride.code("shenzhen"))["payload"], route, "out")
    assert (out["decision"], out["reason"]) == ("deny", "wrong_direction")


async def test_tap_out_without_tap_in_follows_the_operators_rule(ride: Ride) -> None:
    gate = await ride.gate(METRO)
    station = ride.stops(METRO)[0]
    answer = await ride.scan(gate, (await ride.code("shenzhen"))["payload"], station, "out")
    rule = ride.operator(METRO).rules.tap_out_without_tap_in
    if rule == "max_fare":
        assert answer["decision"] == "open"
        assert answer["fare"] == ride.operator(METRO).fares.max_fare(station, "adult").amount.as_dict()
    else:
        assert (answer["decision"], answer["reason"]) == ("deny", "wrong_direction")


async def test_expired_forged_truncated_oversized_and_wrong_type_payloads_are_denied(ride: Ride) -> None:
    gate = await ride.gate(METRO)
    station = ride.stops(METRO)[0]
    good = (await ride.code("shenzhen"))["payload"]
    data = bytearray(base45.decode(good))
    data[40] ^= 0xFF
    cases = {
        "bad_signature": base45.encode(bytes(data)),
        "malformed": good[:-3],
    }
    for reason, payload in cases.items():
        answer = await ride.scan(gate, payload, station)
        assert (answer["decision"], answer["reason"]) == ("deny", reason)
    for payload in ("A" * 100_000, 12345, None, ["x"]):
        answer = await ride.scan(gate, payload, station)
        assert (answer["decision"], answer["reason"]) == ("deny", "malformed")
    ride.clock.advance(seconds=60 + 301)
    answer = await ride.scan(gate, good, station)
    assert (answer["decision"], answer["reason"]) == ("deny", "expired")


async def test_a_code_for_another_city_is_wrong_scope(ride: Ride) -> None:
    gate = await ride.gate(METRO)
    answer = await ride.scan(gate, (await ride.code("hong_kong"))["payload"], ride.stops(METRO)[0])
    assert (answer["decision"], answer["reason"]) == ("deny", "wrong_scope")


async def test_gates_are_authenticated_and_kept_to_their_operator(ride: Ride) -> None:
    payload = (await ride.code("shenzhen"))["payload"]
    body = {
        "payload": payload,
        "gate_id": "g",
        "station": ride.stops(METRO)[0],
        "direction": "in",
        "scanned_at": ride.clock.now().isoformat(),
    }
    assert (await ride.api.post("/v1/gate/scans", body))[0] == 401
    assert (await ride.rider.post("/v1/gate/scans", body))[0] == 403
    bus_gate = await ride.gate(BUS)
    status, answer = await bus_gate.post("/v1/gate/scans", body)
    assert (status, answer["error"]["code"]) == (403, "out_of_scope")


async def test_a_denied_account_is_refused_at_the_gate_and_gets_no_code(
    ride: Ride, pg: asyncpg.Connection
) -> None:
    gate = await ride.gate(METRO)
    payload = (await ride.code("shenzhen"))["payload"]
    account = (await pg.fetchval("SELECT account_token FROM ride_accounts")).hex()
    await ride.services.transit.deny_list.change("account", account, "add", "unpaid fares")
    answer = await ride.scan(gate, payload, ride.stops(METRO)[0])
    assert (answer["decision"], answer["reason"]) == ("deny", "denied_account")
    status, body = await ride.rider.post("/v1/ride-codes", {"city": "shenzhen"})
    assert (status, body["error"]["code"]) == (403, "account_denied")
    status, delta = await gate.get("/v1/gate/denylist?since=0")
    assert status == 200 and [(c["kind"], c["value"], c["action"]) for c in delta["changes"]] == [
        ("account", account, "add")
    ]
    _, later = await gate.get(f"/v1/gate/denylist?since={delta['next_cursor']}")
    assert later["changes"] == [] and later["next_cursor"] == delta["next_cursor"]


async def test_an_open_journey_elsewhere_blocks_codes_for_other_cities(ride: Ride) -> None:
    gate = await ride.gate(METRO)
    await ride.scan(gate, (await ride.code("shenzhen"))["payload"], ride.stops(METRO)[0])
    status, body = await ride.rider.post("/v1/ride-codes", {"city": "hong_kong"})
    assert (status, body["error"]["code"]) == (409, "unfinished_journey")
    assert (await ride.rider.post("/v1/ride-codes", {"city": "shenzhen"}))[0] == 201


async def test_a_journey_left_open_becomes_unfinished_then_is_repaired(ride: Ride) -> None:
    gate = await ride.gate(METRO)
    stops = ride.stops(METRO)
    opened = await ride.scan(gate, (await ride.code("shenzhen"))["payload"], stops[0])
    ride.clock.advance(minutes=ride.operator(METRO).rules.max_journey_minutes + 1)
    assert await ride.services.transit.journeys.close_overdue() == 1
    journey = (await ride.rider.get("/v1/journeys"))[1]["items"][0]
    penalty = ride.operator(METRO).fares.max_fare(stops[0], "adult").amount
    assert (journey["status"], journey["fare"]) == ("unfinished", penalty.as_dict())
    status, repaired = await ride.rider.post(
        f"/v1/journeys/{opened['journey_id']}/repair", {"exit_station": stops[1]}
    )
    assert status == 200 and repaired["status"] == "repaired" and repaired["exit_station"] == stops[1]
    assert repaired["fare"]["amount"] <= penalty.amount


async def test_repair_checks_the_station_and_the_owner(ride: Ride) -> None:
    gate = await ride.gate(METRO)
    opened = await ride.scan(gate, (await ride.code("shenzhen"))["payload"], ride.stops(METRO)[0])
    ride.clock.advance(minutes=ride.operator(METRO).rules.max_journey_minutes + 1)
    await ride.services.transit.journeys.close_overdue()
    path = f"/v1/journeys/{opened['journey_id']}/repair"
    assert (await ride.rider.post(path, {"exit_station": "no_such_station"}))[0] == 400
    stranger = await ride.api.sign_in("not-mine")
    assert (await stranger.post(path, {"exit_station": ride.stops(METRO)[1]}))[0] == 404


async def test_an_open_journey_cannot_be_repaired_into_a_cheap_fare(ride: Ride) -> None:
    gate = await ride.gate(METRO)
    opened = await ride.scan(gate, (await ride.code("shenzhen"))["payload"], ride.stops(METRO)[0])
    status, body = await ride.rider.post(
        f"/v1/journeys/{opened['journey_id']}/repair", {"exit_station": ride.stops(METRO)[1]}
    )
    assert (status, body["error"]["code"]) == (409, "journey_not_unfinished")


async def test_gate_keys_are_cacheable_and_list_rotated_keys(ride: Ride) -> None:
    gate = await ride.gate(METRO)
    async with gate.client.get("/v1/gate/keys", headers={"Authorization": f"Bearer {gate.token}"}) as resp:
        etag, keys = resp.headers["ETag"], await resp.json()
    assert [k["kid"] for k in keys["keys"]] == ["ride_codes-1"]
    assert keys["policy"]["scope"] == ride.operator(METRO).scope_code
    async with gate.client.get(
        "/v1/gate/keys", headers={"Authorization": f"Bearer {gate.token}", "If-None-Match": etag}
    ) as resp:
        assert resp.status == 304
    await ride.services.transit.issuer_keys.rotate("ride_codes")
    _, rotated = await gate.get("/v1/gate/keys")
    lead = ride.services.transit.issuer_keys.settings.key_lead_hours
    assert [(k["kid"], k["signing"]) for k in rotated["keys"]] == [
        ("ride_codes-1", True),
        ("ride_codes-2", False),  # published now, signs from not_before
    ]
    staged = rotated["keys"][1]
    assert datetime.fromisoformat(staged["not_before"]) >= ride.clock.now() + timedelta(hours=lead)
    ride.clock.advance(hours=lead)
    _, later = await gate.get("/v1/gate/keys")
    assert [(k["kid"], k["signing"]) for k in later["keys"]] == [
        ("ride_codes-1", False),
        ("ride_codes-2", True),
    ]


async def test_codes_signed_by_a_staged_key_before_its_turn_are_refused(
    ride: Ride, pg: asyncpg.Connection
) -> None:
    """A staged key signs nothing before not_before: a code claiming otherwise is not trusted
    (its private key leaking before its turn must not open gates early)."""
    keys = ride.services.transit.issuer_keys
    staged = await keys.rotate("ride_codes")
    ride.services.transit.keys.forget()
    sealed = await pg.fetchval("SELECT private_key_sealed FROM issuer_keys WHERE kid = $1", staged.kid)
    private = serialization.load_der_private_key(keys.sealer.open(sealed, f"issuer_key|{staged.kid}"), None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    issued = int(ride.clock.now().timestamp())
    body = fmt.issuer_code_body(key_number(staged.kid), issued, 60, 0, os.urandom(8), os.urandom(8))
    payload = base45.encode(body + sign(private, body))
    answer = await ride.scan(await ride.gate(METRO), payload, ride.stops(METRO)[0])
    assert (answer["decision"], answer["reason"]) == ("deny", "not_yet_valid")


async def test_a_compromised_key_is_revoked_at_the_gate(ride: Ride) -> None:
    gate = await ride.gate(METRO)
    payload = (await ride.code("shenzhen"))["payload"]
    await ride.services.transit.issuer_keys.mark_compromised("ride_codes-1")
    ride.services.transit.keys.forget()  # the other workers notice within refresh_seconds
    answer = await ride.scan(gate, payload, ride.stops(METRO)[0])
    assert (answer["decision"], answer["reason"]) == ("deny", "revoked")
    status, _ = await gate.get("/v1/gate/keys")
    assert status == 200


async def test_an_expired_codes_image_is_410(ride: Ride) -> None:
    code = await ride.code("shenzhen")
    ride.clock.advance(seconds=60 + 301)
    status, body = await ride.rider.get(code["png_url"])
    assert (status, body["error"]["code"]) == (410, "code_expired")


async def test_each_gate_has_its_own_rate_limit_bucket(make_api: AppFactory, clock: MovableClock) -> None:
    api = await make_api(test_config({"rate_limits": {"read": "2/60"}}))
    services = api.client.server.app[SERVICES]
    gates = [api.as_((await services.credentials.issue("gate", METRO)).token) for _ in range(2)]
    assert [(await gates[0].get("/v1/gate/keys"))[0] for _ in range(3)] == [200, 200, 429]
    assert (await gates[1].get("/v1/gate/keys"))[0] == 200  # another gate of the same operator


async def test_regions_give_each_city_its_money_and_time(ride: Ride) -> None:
    _, regions = await ride.api.get("/v1/regions")
    cities = {c["id"]: c for j in regions["items"] for c in j["cities"]}
    assert (cities["macao"]["currency"], cities["macao"]["time_zone"]) == ("MOP", "Asia/Macau")
    operators = {o["id"]: o for c in cities.values() for o in c["operators"]}
    assert len(operators) >= 20 and all(o["demo_tariff"] for o in operators.values())
    assert {"mtr", "shenzhen_metro", "macao_lrt", "hzmb_shuttle"} <= set(operators)
