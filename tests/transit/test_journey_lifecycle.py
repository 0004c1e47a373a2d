"""A journey's life after its tap-in: closed as unfinished at the maximum journey time (and then
blocking nothing), completed by a late tap-out (online or uploaded) at the fare to the exit plus
the overtime surcharge, the difference to the charged maximum refunded as its own line."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from bayaffairs.fx import convert
from bayaffairs.transit.model import Trip
from tests.transit.conftest import Ride

pytestmark = pytest.mark.at_two_instants

METRO = "shenzhen_metro"
SURCHARGE = 300  # fen


@pytest.fixture
def surcharged(ride: Ride) -> Ride:
    """The ride fixture, with an overtime surcharge in Shenzhen Metro's rules."""
    operators = ride.services.transit.network.operators
    operators[METRO] = replace(
        operators[METRO], rules=replace(operators[METRO].rules, overtime_surcharge=SURCHARGE)
    )
    return ride


async def enter_and_overstay(ride: Ride, station: str) -> dict[str, Any]:
    """Tap in at `station`, stay past the maximum journey time, the journey closed and charged."""
    gate = await ride.gate(METRO)
    opened = await ride.scan(gate, (await ride.code("shenzhen"))["payload"], station)
    assert opened["decision"] == "open"
    ride.clock.advance(minutes=ride.operator(METRO).rules.max_journey_minutes + 30)
    assert await ride.services.transit.journeys.close_overdue() == 1
    return opened


async def journeys(ride: Ride) -> list[dict[str, Any]]:
    status, page = await ride.rider.get("/v1/journeys")
    assert status == 200
    items: list[dict[str, Any]] = page["items"]
    return items


def fare(ride: Ride, entry: str, exit_: str, entered_at: str) -> int:
    quote = ride.operator(METRO).fares.fare(Trip(entry, exit_, datetime.fromisoformat(entered_at)))
    return quote.amount.amount


async def test_an_unfinished_journey_is_charged_the_maximum_at_once_and_blocks_nothing(
    ride: Ride, pg: asyncpg.Connection
) -> None:
    stops = ride.stops(METRO)
    opened = await enter_and_overstay(ride, stops[0])
    [journey] = await journeys(ride)
    penalty = ride.operator(METRO).fares.max_fare(stops[0], "adult").amount
    assert (journey["id"], journey["status"], journey["fare"]) == (
        opened["journey_id"],
        "unfinished",
        penalty.as_dict(),
    )
    assert await ride.services.transit.charges.charge_pending() == 1  # charged now, not held
    assert await pg.fetchval("SELECT charge_status FROM journeys") == "charged"
    # Blocks nothing: a code for any city, and a tap-in anywhere.
    assert (await ride.rider.post("/v1/ride-codes", {"city": "hong_kong"}))[0] == 201
    gate = await ride.gate(METRO)
    again = await ride.scan(gate, (await ride.code("shenzhen"))["payload"], stops[2])
    assert again["decision"] == "open" and again["journey_id"] != opened["journey_id"]


async def test_an_open_journey_still_refuses_a_tap_in_elsewhere_until_its_time_is_up(ride: Ride) -> None:
    stops = ride.stops(METRO)
    gate = await ride.gate(METRO)
    await ride.scan(gate, (await ride.code("shenzhen"))["payload"], stops[0])
    ride.clock.advance(minutes=ride.operator(METRO).rules.max_journey_minutes - 1)
    refused = await ride.scan(gate, (await ride.code("shenzhen"))["payload"], stops[3])
    assert (refused["decision"], refused["reason"]) == ("deny", "unfinished_journey")
    status, body = await ride.rider.post("/v1/ride-codes", {"city": "hong_kong"})
    assert (status, body["error"]["code"]) == (409, "unfinished_journey")
    # Past its time the open journey no longer holds a code back, and once closed, no tap-in.
    ride.clock.advance(minutes=2)
    assert (await ride.rider.post("/v1/ride-codes", {"city": "hong_kong"}))[0] == 201
    await ride.services.transit.journeys.close_overdue()
    opened = await ride.scan(gate, (await ride.code("shenzhen"))["payload"], stops[3])
    assert opened["decision"] == "open"


async def test_a_late_online_tap_out_completes_the_journey_with_the_surcharge_and_refunds_the_rest(
    surcharged: Ride, pg: asyncpg.Connection
) -> None:
    ride = surcharged
    stops = ride.stops(METRO)
    opened = await enter_and_overstay(ride, stops[0])
    charges = ride.services.transit.charges
    assert await charges.charge_pending() == 1
    [closed] = await journeys(ride)
    gate = await ride.gate(METRO)
    out = await ride.scan(gate, (await ride.code("shenzhen"))["payload"], stops[1], "out")
    assert (out["decision"], out["journey_id"]) == ("open", opened["journey_id"])
    [journey] = await journeys(ride)  # no second journey, no second maximum fare
    expected = fare(ride, stops[0], stops[1], closed["entry_at"]) + SURCHARGE
    assert expected < closed["fare"]["amount"]
    assert (journey["status"], journey["exit_station"], journey["fare"]["amount"]) == (
        "completed",
        stops[1],
        expected,
    )
    assert journey["charge"] == closed["charge"]  # the charge as it was made
    rate = await pg.fetchval("SELECT fx_rate FROM journeys")
    [refund] = journey["refunds"]
    assert refund["amount"] == {
        "amount": closed["charge"]["amount"] - convert(expected, "CNY", "HKD", rate),
        "currency": "HKD",
    }
    assert (refund["reason"], refund["status"]) == ("late tap-out", "pending")
    assert refund["fare"] == {"amount": closed["fare"]["amount"] - expected, "currency": "CNY"}
    assert await charges.refund_due() == 1
    assert (await journeys(ride))[0]["refunds"][0]["status"] == "refunded"
    assert await charges.refund_due() == 0
    assert await charges.charge_pending() == 0  # nothing charged twice


async def test_a_late_tap_out_before_the_charge_went_out_only_lowers_the_charge(surcharged: Ride) -> None:
    ride = surcharged
    stops = ride.stops(METRO)
    opened = await enter_and_overstay(ride, stops[0])
    [closed] = await journeys(ride)
    gate = await ride.gate(METRO)
    out = await ride.scan(gate, (await ride.code("shenzhen"))["payload"], stops[1], "out")
    assert out["journey_id"] == opened["journey_id"]
    [journey] = await journeys(ride)
    expected = fare(ride, stops[0], stops[1], closed["entry_at"]) + SURCHARGE
    assert (journey["fare"]["amount"], journey["charge_status"], journey["refunds"]) == (
        expected,
        "pending",
        [],
    )
    assert journey["charge"]["amount"] < closed["charge"]["amount"]
    assert await ride.services.transit.charges.charge_pending() == 1


async def test_an_uploaded_tap_out_scanned_in_time_completes_the_closed_journey_without_surcharge(
    surcharged: Ride,
) -> None:
    ride = surcharged
    stops = ride.stops(METRO)
    gate = await ride.gate(METRO)
    opened = await ride.scan(gate, (await ride.code("shenzhen"))["payload"], stops[0])
    ride.clock.advance(minutes=25)
    exit_code = (await ride.code("shenzhen"))["payload"]
    scanned_at = ride.clock.now().astimezone(UTC).isoformat()
    ride.clock.advance(minutes=ride.operator(METRO).rules.max_journey_minutes)
    assert await ride.services.transit.journeys.close_overdue() == 1  # the gate has not uploaded yet
    assert await ride.services.transit.charges.charge_pending() == 1
    [closed] = await journeys(ride)
    tap = {
        "tap_id": "late-out-1",
        "payload": exit_code,
        "gate_id": "offline-9",
        "station": stops[1],
        "direction": "out",
        "scanned_at": scanned_at,
    }
    status, result = await gate.post("/v1/gate/taps:batch", {"taps": [tap]})
    assert (status, result["accepted"]) == (200, 1)
    assert await ride.services.transit.uploads.drain(settle_seconds=0) == 1
    [journey] = await journeys(ride)
    expected = fare(ride, stops[0], stops[1], closed["entry_at"])  # on time: no surcharge
    assert (journey["id"], journey["status"], journey["fare"]["amount"]) == (
        opened["journey_id"],
        "completed",
        expected,
    )
    [refund] = journey["refunds"]
    assert refund["fare"]["amount"] == closed["fare"]["amount"] - expected


async def test_a_tap_out_after_entering_elsewhere_is_not_paired_with_the_closed_journey(
    ride: Ride,
) -> None:
    stops = ride.stops(METRO)
    opened = await enter_and_overstay(ride, stops[0])
    gate = await ride.gate(METRO)
    second = await ride.scan(gate, (await ride.code("shenzhen"))["payload"], stops[2])
    out = await ride.scan(gate, (await ride.code("shenzhen"))["payload"], stops[3], "out")
    assert out["journey_id"] == second["journey_id"] != opened["journey_id"]
    statuses = {j["id"]: j["status"] for j in await journeys(ride)}
    assert statuses == {opened["journey_id"]: "unfinished", second["journey_id"]: "completed"}


async def test_repairing_a_charged_unfinished_journey_refunds_the_difference_within_repair_days(
    ride: Ride,
) -> None:
    stops = ride.stops(METRO)
    opened = await enter_and_overstay(ride, stops[0])
    assert await ride.services.transit.charges.charge_pending() == 1
    [closed] = await journeys(ride)
    path = f"/v1/journeys/{opened['journey_id']}/repair"
    status, repaired = await ride.rider.post(path, {"exit_station": stops[1]})
    assert status == 200, repaired
    assert (repaired["status"], repaired["fare"]["amount"]) == (
        "repaired",
        fare(ride, stops[0], stops[1], closed["entry_at"]),
    )
    [refund] = repaired["refunds"]
    assert (refund["reason"], refund["fare"]["amount"]) == (
        "repair",
        closed["fare"]["amount"] - repaired["fare"]["amount"],
    )


async def test_a_journey_can_no_longer_be_repaired_after_repair_days(ride: Ride) -> None:
    stops = ride.stops(METRO)
    opened = await enter_and_overstay(ride, stops[0])
    entered = ride.clock.now() - timedelta(minutes=ride.operator(METRO).rules.max_journey_minutes + 30)
    days = ride.services.transit.settings.repair_days
    ride.clock.set(entered + timedelta(days=days, minutes=1))
    path = f"/v1/journeys/{opened['journey_id']}/repair"
    status, body = await ride.rider.post(path, {"exit_station": stops[1]})
    assert (status, body["error"]["code"]) == (409, "repair_too_late")
    ride.clock.set(entered + timedelta(days=days, minutes=-1))  # negative control: just in time
    assert (await ride.rider.post(path, {"exit_station": stops[1]}))[0] == 200


async def test_a_tap_in_past_the_maximum_time_is_not_locked_out_until_the_job_runs(
    ride: Ride, pg: asyncpg.Connection
) -> None:
    """Past its operator's maximum journey time an open journey blocks nothing, even before the
    overdue job ran: the tap-in closes it as the job would (charged the maximum), and the job then
    finds nothing left to charge."""
    stops = ride.stops(METRO)
    gate = await ride.gate(METRO)
    first = await ride.scan(gate, (await ride.code("shenzhen"))["payload"], stops[0])
    ride.clock.advance(minutes=ride.operator(METRO).rules.max_journey_minutes + 1)
    again = await ride.scan(gate, (await ride.code("shenzhen"))["payload"], stops[3])  # no job run
    assert (again["decision"], again.get("reason")) == ("open", None)
    closed = await pg.fetchrow(
        "SELECT status, fare_amount, fare_rule, charge_status FROM journeys WHERE id = $1",
        first["journey_id"],
    )
    penalty = ride.operator(METRO).fares.max_fare(stops[0], "adult").amount.amount
    assert (closed["status"], closed["fare_amount"], closed["charge_status"]) == (
        "unfinished",
        penalty,
        "pending",
    )
    assert closed["fare_rule"].startswith("no tap-out")
    assert await ride.services.transit.journeys.close_overdue() == 0  # not closed (or charged) twice
    assert await ride.services.transit.charges.charge_pending() == 1
    statuses = await pg.fetch("SELECT id, status FROM journeys ORDER BY entry_at")
    assert [(r["id"], r["status"]) for r in statuses] == [
        (first["journey_id"], "unfinished"),
        (again["journey_id"], "open"),
    ]


def entered_at(ride: Ride) -> datetime:
    """The entry of enter_and_overstay()'s journey."""
    return ride.clock.now() - timedelta(minutes=ride.operator(METRO).rules.max_journey_minutes + 30)


@pytest.mark.parametrize(("minutes", "late"), [(-1, True), (1, False)])
async def test_an_online_late_tap_out_completes_the_journey_only_within_repair_days(
    ride: Ride, minutes: int, late: bool
) -> None:
    """A late tap-out is a repair made by a gate: within `repair_days` of the entry (by the tap's
    scan time), as a repair; after that the closed journey stands, and the exit is one without a
    tap-in."""
    stops = ride.stops(METRO)
    opened = await enter_and_overstay(ride, stops[0])
    entered = entered_at(ride)
    [closed] = await journeys(ride)
    ride.clock.set(entered + timedelta(days=ride.services.transit.settings.repair_days, minutes=minutes))
    gate = await ride.gate(METRO)
    out = await ride.scan(gate, (await ride.code("shenzhen"))["payload"], stops[1], "out")
    kept = {j["id"]: j for j in await journeys(ride)}[opened["journey_id"]]
    if late:
        assert (out["journey_id"], kept["status"], kept["exit_station"]) == (
            opened["journey_id"],
            "completed",
            stops[1],
        )
        assert kept["fare"]["amount"] < closed["fare"]["amount"]
    else:
        assert out.get("journey_id") != opened["journey_id"]
        assert (kept["status"], kept["fare"], kept["exit_station"], kept["refunds"]) == (
            "unfinished",
            closed["fare"],
            None,
            [],
        )


@pytest.mark.parametrize(("minutes", "late"), [(-1, True), (1, False)])
async def test_an_uploaded_late_tap_out_completes_the_journey_only_if_scanned_within_repair_days(
    ride: Ride, minutes: int, late: bool
) -> None:
    """The bound counts the uploaded tap's scan time (the upload itself may come later, within
    the offline window)."""
    stops = ride.stops(METRO)
    opened = await enter_and_overstay(ride, stops[0])
    entered = entered_at(ride)
    [closed] = await journeys(ride)
    ride.clock.set(entered + timedelta(days=ride.services.transit.settings.repair_days, minutes=minutes))
    exit_code = (await ride.code("shenzhen"))["payload"]
    scanned_at = ride.clock.now().astimezone(UTC).isoformat()
    ride.clock.advance(hours=1)  # uploaded later, within the offline window
    tap = {
        "tap_id": "late-out-bound",
        "payload": exit_code,
        "gate_id": "offline-9",
        "station": stops[1],
        "direction": "out",
        "scanned_at": scanned_at,
    }
    gate = await ride.gate(METRO)
    status, result = await gate.post("/v1/gate/taps:batch", {"taps": [tap]})
    assert (status, result["accepted"]) == (200, 1)
    await ride.services.transit.uploads.drain(settle_seconds=0)
    kept = {j["id"]: j for j in await journeys(ride)}[opened["journey_id"]]
    if late:
        assert (kept["status"], kept["exit_station"]) == ("completed", stops[1])
        assert kept["fare"]["amount"] < closed["fare"]["amount"]
    else:
        assert (kept["status"], kept["fare"], kept["exit_station"], kept["refunds"]) == (
            "unfinished",
            closed["fare"],
            None,
            [],
        )
