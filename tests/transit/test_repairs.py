"""Repair policy: a rider repairs an unfinished journey at once within the operator's monthly
allowance, beyond it the operator approves or refuses; the maximum fare stands meanwhile."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import asyncpg
import pytest

from bayaffairs.db.queries import journeys as journeys_q
from bayaffairs.fx import convert
from tests.support import Api
from tests.transit.conftest import Ride

pytestmark = pytest.mark.at_two_instants

METRO = "shenzhen_metro"


async def unfinished(ride: Ride, station: str, rider: Api | None = None) -> str:
    """A journey entered at `station` and closed as unfinished; its id."""
    gate = await ride.gate(METRO)
    opened = await ride.scan(gate, (await ride.code("shenzhen", rider))["payload"], station)
    ride.clock.advance(minutes=ride.operator(METRO).rules.max_journey_minutes + 1)
    await ride.services.transit.journeys.close_overdue()
    journey_id: str = opened["journey_id"]
    return journey_id


async def repair(ride: Ride, journey_id: str, exit_station: str, rider: Api | None = None) -> tuple[int, Any]:
    return await (rider or ride.rider).post(
        f"/v1/journeys/{journey_id}/repair", {"exit_station": exit_station}
    )


async def operator_api(ride: Ride, operator: str) -> Api:
    issued = await ride.services.credentials.issue("operator", operator)
    return ride.api.as_(issued.token)


async def test_an_exit_equal_to_the_entry_is_400(ride: Ride) -> None:
    stops = ride.stops(METRO)
    journey_id = await unfinished(ride, stops[0])
    status, body = await repair(ride, journey_id, stops[0])
    assert status == 400 and "exit_station" in body["error"]["details"]["fields"]
    assert (await repair(ride, journey_id, stops[1]))[0] == 200  # negative control


async def test_repairs_within_the_monthly_allowance_are_priced_at_once_then_go_to_review(
    ride: Ride,
) -> None:
    stops = ride.stops(METRO)
    allowance = ride.operator(METRO).rules.self_repairs_per_month
    assert allowance == 2  # the default
    for n in range(allowance):
        journey_id = await unfinished(ride, stops[n])
        status, body = await repair(ride, journey_id, stops[n + 5])
        assert (status, body["status"]) == (200, "repaired")
    journey_id = await unfinished(ride, stops[3])
    status, body = await repair(ride, journey_id, stops[8])
    assert status == 202
    assert body["status"] == "pending_review" and body["journey_id"] == journey_id and body["repair_id"]
    [journey] = [j for j in (await ride.rider.get("/v1/journeys"))[1]["items"] if j["id"] == journey_id]
    penalty = ride.operator(METRO).fares.max_fare(stops[3], "adult").amount
    assert (journey["status"], journey["fare"]) == ("unfinished", penalty.as_dict())  # it stands
    again = await repair(ride, journey_id, stops[8])  # asking again: the same request
    assert again == (202, body)


async def test_the_operator_approves_a_pending_repair_and_the_difference_is_refunded(ride: Ride) -> None:
    operators = ride.services.transit.network.operators
    operators[METRO] = replace(
        operators[METRO], rules=replace(operators[METRO].rules, self_repairs_per_month=0)
    )
    stops = ride.stops(METRO)
    journey_id = await unfinished(ride, stops[0])
    assert await ride.services.transit.charges.charge_pending() == 1  # the maximum fare, charged
    status, asked = await repair(ride, journey_id, stops[1])
    assert status == 202
    operator = await operator_api(ride, METRO)
    status, page = await operator.get(f"/v1/operators/{METRO}/repairs?status=pending")
    assert status == 200
    [pending] = page["items"]
    assert (pending["id"], pending["journey_id"], pending["exit_station"], pending["status"]) == (
        asked["repair_id"],
        journey_id,
        stops[1],
        "pending",
    )
    status, decided = await operator.post(
        f"/v1/operators/{METRO}/repairs/{pending['id']}", {"decision": "approve"}
    )
    assert (status, decided["status"]) == (200, "approved")
    [journey] = (await ride.rider.get("/v1/journeys"))[1]["items"]
    assert (journey["status"], journey["exit_station"]) == ("repaired", stops[1])
    [refund] = journey["refunds"]
    assert refund["reason"] == "repair" and refund["amount"]["amount"] > 0
    assert (await operator.get(f"/v1/operators/{METRO}/repairs?status=pending"))[1]["items"] == []
    status, body = await operator.post(
        f"/v1/operators/{METRO}/repairs/{pending['id']}", {"decision": "refuse"}
    )
    assert (status, body["error"]["code"]) == (409, "repair_decided")


async def test_a_refused_repair_leaves_the_maximum_fare_and_cannot_be_asked_again(ride: Ride) -> None:
    operators = ride.services.transit.network.operators
    operators[METRO] = replace(
        operators[METRO], rules=replace(operators[METRO].rules, self_repairs_per_month=0)
    )
    stops = ride.stops(METRO)
    journey_id = await unfinished(ride, stops[0])
    _, asked = await repair(ride, journey_id, stops[1])
    operator = await operator_api(ride, METRO)
    status, decided = await operator.post(
        f"/v1/operators/{METRO}/repairs/{asked['repair_id']}", {"decision": "refuse"}
    )
    assert (status, decided["status"]) == (200, "refused")
    [journey] = (await ride.rider.get("/v1/journeys"))[1]["items"]
    penalty = ride.operator(METRO).fares.max_fare(stops[0], "adult").amount
    assert (journey["status"], journey["fare"], journey["refunds"]) == ("unfinished", penalty.as_dict(), [])
    status, body = await repair(ride, journey_id, stops[2])
    assert (status, body["error"]["code"]) == (409, "repair_exists")


async def test_operators_see_and_decide_only_their_own_repairs(ride: Ride) -> None:
    operators = ride.services.transit.network.operators
    operators[METRO] = replace(
        operators[METRO], rules=replace(operators[METRO].rules, self_repairs_per_month=0)
    )
    journey_id = await unfinished(ride, ride.stops(METRO)[0])
    _, asked = await repair(ride, journey_id, ride.stops(METRO)[1])
    other = await operator_api(ride, "mtr")
    status, body = await other.get(f"/v1/operators/{METRO}/repairs?status=pending")
    assert (status, body["error"]["code"]) == (403, "out_of_scope")
    status, _ = await other.post(
        f"/v1/operators/{METRO}/repairs/{asked['repair_id']}", {"decision": "approve"}
    )
    assert status == 403
    status, body = await other.post(
        f"/v1/operators/mtr/repairs/{asked['repair_id']}", {"decision": "approve"}
    )
    assert (status, body["error"]["code"]) == (404, "repair_not_found")
    assert (await other.get("/v1/operators/mtr/repairs?status=pending"))[1]["items"] == []
    assert (await ride.rider.get(f"/v1/operators/{METRO}/repairs"))[0] == 403
    gate = await ride.gate(METRO)
    assert (await gate.get(f"/v1/operators/{METRO}/repairs"))[0] == 403
    # negative control: the operator itself sees and decides it
    own = await operator_api(ride, METRO)
    [item] = (await own.get(f"/v1/operators/{METRO}/repairs?status=pending"))[1]["items"]
    assert item["id"] == asked["repair_id"]
    assert (await own.post(f"/v1/operators/{METRO}/repairs/{item['id']}", {"decision": "approve"}))[0] == 200


async def test_a_late_tap_out_supersedes_a_pending_repair(ride: Ride) -> None:
    operators = ride.services.transit.network.operators
    operators[METRO] = replace(
        operators[METRO], rules=replace(operators[METRO].rules, self_repairs_per_month=0)
    )
    stops = ride.stops(METRO)
    journey_id = await unfinished(ride, stops[0])
    _, asked = await repair(ride, journey_id, stops[5])
    gate = await ride.gate(METRO)
    out = await ride.scan(gate, (await ride.code("shenzhen"))["payload"], stops[1], "out")
    assert out["journey_id"] == journey_id
    operator = await operator_api(ride, METRO)
    status, decided = await operator.post(
        f"/v1/operators/{METRO}/repairs/{asked['repair_id']}", {"decision": "approve"}
    )
    assert (status, decided["status"]) == (200, "superseded")
    [journey] = (await ride.rider.get("/v1/journeys"))[1]["items"]
    assert (journey["status"], journey["exit_station"]) == ("completed", stops[1])


async def test_concurrent_repairs_never_exceed_the_monthly_allowance(
    ride: Ride, pg: asyncpg.Connection
) -> None:
    stops = ride.stops(METRO)
    allowance = ride.operator(METRO).rules.self_repairs_per_month
    journey_ids = [await unfinished(ride, stops[n]) for n in range(allowance + 2)]
    answers = await asyncio.gather(*(repair(ride, j, stops[-1]) for j in journey_ids))
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] * allowance + [202] * 2
    assert await pg.fetchval("SELECT count(*) FROM journey_repairs WHERE status = 'applied'") == allowance
    # negative control: a new month brings the allowance back
    ride.clock.advance(days=31)
    rider = await ride.api.sign_in("rider-one")  # the session has expired meanwhile
    journey_id = await unfinished(ride, stops[0], rider)
    assert (await repair(ride, journey_id, stops[1], rider))[0] == 200


async def test_another_rider_cannot_repair_a_journey_or_pay_its_debt(
    ride: Ride, pg: asyncpg.Connection
) -> None:
    stops = ride.stops(METRO)
    journey_id = await unfinished(ride, stops[0])
    other = await ride.api.sign_in("rider-two")
    status, body = await repair(ride, journey_id, stops[1], rider=other)
    assert (status, body["error"]["code"]) == (404, "journey_not_found")
    assert await pg.fetchval("SELECT count(*) FROM journey_repairs") == 0
    status, body = await other.post(f"/v1/me/debts/dbt_{journey_id[4:]}/payment")
    assert status == 404, body
    assert (await repair(ride, journey_id, stops[1]))[0] == 200  # control: its rider can


async def test_a_repair_while_a_charge_without_a_rate_is_being_made_is_not_lost(
    ride: Ride, pg: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    stops = ride.stops(METRO)
    journey_id = await unfinished(ride, stops[0])
    # Priced while the rate feed was down: the fare, no charge yet (the charging job converts it).
    await pg.execute(
        "UPDATE journeys SET charge_amount = NULL, charge_currency = NULL, fx_rate = NULL, fx_source = NULL"
    )
    maximum = await pg.fetchval("SELECT fare_amount FROM journeys")
    charges = ride.services.transit.charges
    seen: list[str] = []
    real_charge = charges._charge

    async def repaired_first(job: Any) -> Any:
        """The rider repairs the journey once the charging job claimed it, before it converts the
        fare and calls the wallet."""
        claimed = await journeys_q.get(pg, journey_id)  # control: in the window (as the service reads it)
        assert claimed is not None
        seen.append(claimed.charge_status)
        status, body = await repair(ride, journey_id, stops[1])
        assert status == 200, body
        return await real_charge(job)

    monkeypatch.setattr(charges, "_charge", repaired_first)
    assert await charges.charge_pending() == 1
    row = await pg.fetchrow("SELECT * FROM journeys")
    assert seen == ["charging"] and row["charge_status"] == "charged"
    assert row["fare_amount"] < maximum and row["status"] == "repaired"  # the repair was not lost
    back = await pg.fetchval("SELECT coalesce(sum(amount), 0) FROM journey_refunds")
    assert row["charge_amount"] - back == convert(row["fare_amount"], "CNY", "HKD", row["fx_rate"])
