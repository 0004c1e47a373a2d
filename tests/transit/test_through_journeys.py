"""Through journeys at the gates and in settlement: Guangzhou Metro to Foshan Metro is one journey
priced once, each operator's file shows its share; MTR Shenzhen's Line 4 settles to
`mtr_shenzhen`, and a journey over Line 4 and Line 1 is split between the two operators."""

from __future__ import annotations

from datetime import date
from typing import Any

import asyncpg
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bayaffairs.transit.through import split
from tests.transit.conftest import Ride, uploaded_tap
from tests.transit.test_settlement import at_local, local_day, operator_api


async def through_journey(
    ride: Ride, city: str, entry_operator: str, entry: str, exit_operator: str, exit_: str
) -> dict[str, Any]:
    """Tap in at `entry_operator`'s gate, ride 20 minutes, tap out at `exit_operator`'s."""
    payload = (await ride.code(city))["payload"]
    tapped_in = await ride.scan(await ride.gate(entry_operator), payload, entry)
    assert tapped_in["decision"] == "open", tapped_in
    ride.clock.advance(minutes=20)
    exit_payload = (await ride.code(city))["payload"]
    tapped_out = await ride.scan(await ride.gate(exit_operator), exit_payload, exit_, "out")
    assert tapped_out["decision"] == "open", tapped_out
    assert tapped_out["journey_id"] == tapped_in["journey_id"]
    return tapped_out


async def settlement_lines(
    ride: Ride, operator: str, on: str | None = None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    api = await operator_api(ride, operator)
    status, day = await api.get(f"/v1/operators/{operator}/settlements?date={on or local_day(ride)}")
    assert status == 200, day
    return day["lines"], day


def share_total(day: dict[str, Any]) -> int:
    return sum(t["share"] for t in day["totals"]["fare"])


async def test_a_guangzhou_to_foshan_journey_is_one_journey_priced_once(ride: Ride) -> None:
    ride.clock.set(at_local(ride, 10))

    out = await through_journey(
        ride, "guangzhou", "guangzhou_metro", "gongyuanqian", "foshan_metro", "zumiao"
    )

    # 22.8 km over both networks: one fare of RMB 6, not RMB 4 + RMB 5
    assert out["fare"] == {"amount": 600, "currency": "CNY"}
    status, page = await ride.rider.get("/v1/journeys")
    assert status == 200
    assert [(j["id"], j["status"], j["fare"]["amount"]) for j in page["items"]] == [
        (out["journey_id"], "completed", 600)
    ]


async def test_a_foshan_code_opens_a_guangzhou_gate_and_the_journey_ends_in_foshan(ride: Ride) -> None:
    ride.clock.set(at_local(ride, 10))

    out = await through_journey(ride, "foshan", "guangzhou_metro", "gongyuanqian", "foshan_metro", "zumiao")

    assert out["fare"]["amount"] == 600
    # a code for another city (Shenzhen) is still refused at the Guangzhou gate
    refused = await ride.scan(
        await ride.gate("guangzhou_metro"), (await ride.code("shenzhen"))["payload"], "gongyuanqian"
    )
    assert (refused["decision"], refused["reason"]) == ("deny", "wrong_scope")


async def test_each_operators_settlement_shows_its_share_of_a_through_journey(ride: Ride) -> None:
    ride.clock.set(at_local(ride, 10))
    out = await through_journey(
        ride, "guangzhou", "guangzhou_metro", "gongyuanqian", "foshan_metro", "zumiao"
    )

    guangzhou, guangzhou_day = await settlement_lines(ride, "guangzhou_metro")
    foshan, foshan_day = await settlement_lines(ride, "foshan_metro")

    assert [(line["journey_id"], line["fare"], line["share"]) for line in guangzhou] == [
        (out["journey_id"], 600, 236)
    ]
    assert [(line["journey_id"], line["fare"], line["share"]) for line in foshan] == [
        (out["journey_id"], 600, 364)
    ]
    assert share_total(guangzhou_day) == 236 and share_total(foshan_day) == 364
    assert share_total(guangzhou_day) + share_total(foshan_day) == 600


async def test_a_line_4_journey_is_settled_to_mtr_shenzhen(ride: Ride) -> None:
    ride.clock.set(at_local(ride, 10))

    out = await through_journey(ride, "shenzhen", "mtr_shenzhen", "fumin", "mtr_shenzhen", "shenzhen_north")

    assert out["fare"]["amount"] == 500  # Shenzhen Metro's bands: 13.3 km
    mtr, mtr_day = await settlement_lines(ride, "mtr_shenzhen")
    metro, _ = await settlement_lines(ride, "shenzhen_metro")
    assert [(line["journey_id"], line["share"]) for line in mtr] == [(out["journey_id"], 500)]
    assert share_total(mtr_day) == 500 and metro == []


async def test_a_journey_entered_at_a_shenzhen_metro_gate_and_ridden_on_line_4_is_mtr_shenzhens(
    ride: Ride,
) -> None:
    ride.clock.set(at_local(ride, 10))

    # the Convention & Exhibition Center is an interchange: Shenzhen Metro's gate, Line 4's train
    out = await through_journey(
        ride, "shenzhen", "shenzhen_metro", "convention_center", "mtr_shenzhen", "shenzhen_north"
    )

    mtr, _ = await settlement_lines(ride, "mtr_shenzhen")
    metro, _ = await settlement_lines(ride, "shenzhen_metro")
    assert [(line["journey_id"], line["share"]) for line in mtr] == [
        (out["journey_id"], out["fare"]["amount"])
    ]
    assert metro == []


async def test_a_journey_across_line_4_and_line_1_is_one_journey_split_by_share(ride: Ride) -> None:
    ride.clock.set(at_local(ride, 10))

    out = await through_journey(
        ride, "shenzhen", "mtr_shenzhen", "futian_checkpoint", "shenzhen_metro", "luohu"
    )

    assert out["fare"]["amount"] == 400  # 9.6 km: 2.0 on Line 4, 7.6 on Line 1
    mtr, _ = await settlement_lines(ride, "mtr_shenzhen")
    metro, _ = await settlement_lines(ride, "shenzhen_metro")
    assert [(line["journey_id"], line["fare"], line["share"]) for line in mtr] == [
        (out["journey_id"], 400, 83)
    ]
    assert [(line["journey_id"], line["fare"], line["share"]) for line in metro] == [
        (out["journey_id"], 400, 317)
    ]


async def test_a_closed_day_keeps_each_operators_share(ride: Ride) -> None:
    ride.clock.set(at_local(ride, 10))
    out = await through_journey(
        ride, "guangzhou", "guangzhou_metro", "gongyuanqian", "foshan_metro", "zumiao"
    )
    day = date.fromisoformat(local_day(ride))
    ride.clock.set(at_local(ride, 5, days=1))

    for operator, share in (("guangzhou_metro", 236), ("foshan_metro", 364)):
        await ride.services.transit.settlements.close(operator, day)
        lines, closed = await settlement_lines(ride, operator, day.isoformat())
        assert closed["status"] == "closed"
        assert [(line["journey_id"], line["share"]) for line in lines] == [(out["journey_id"], share)]
        assert share_total(closed) == share


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    fare=st.integers(0, 10**6),
    weights=st.dictionaries(
        st.sampled_from(["guangzhou_metro", "foshan_metro", "mtr_shenzhen", "a_b", "a1"]),
        st.integers(1, 10**5),
        min_size=1,
    ),
)
async def test_settlements_sql_split_is_pythons_and_adds_up_to_the_fare(
    pg: asyncpg.Connection, fare: int, weights: dict[str, int]
) -> None:
    shares = {
        operator: await pg.fetchval(
            "SELECT journey_share($1, $2::text::jsonb, $3)", fare, orjson.dumps(weights).decode(), operator
        )
        for operator in weights
    }

    assert shares == split(fare, weights)
    assert sum(shares.values()) == fare


async def test_an_unfinished_journey_repaired_to_a_partners_station_is_priced_and_split_by_the_rule(
    ride: Ride,
) -> None:
    ride.clock.set(at_local(ride, 10))
    gate = await ride.gate("guangzhou_metro")
    opened = await ride.scan(gate, (await ride.code("guangzhou"))["payload"], "gongyuanqian")
    ride.clock.advance(minutes=ride.operator("guangzhou_metro").rules.max_journey_minutes + 1)
    await ride.services.transit.journeys.close_overdue()

    status, repaired = await ride.rider.post(
        f"/v1/journeys/{opened['journey_id']}/repair", {"exit_station": "zumiao"}
    )

    assert status == 200, repaired
    assert repaired["status"] == "repaired" and repaired["fare"]["amount"] == 600
    guangzhou, _ = await settlement_lines(ride, "guangzhou_metro")
    foshan, _ = await settlement_lines(ride, "foshan_metro")
    assert [(line["journey_id"], line["share"]) for line in guangzhou] == [(opened["journey_id"], 236)]
    assert [(line["journey_id"], line["share"]) for line in foshan] == [(opened["journey_id"], 364)]


async def test_a_through_journey_charged_after_the_close_is_adjusted_in_each_operators_next_day(
    ride: Ride,
) -> None:
    ride.clock.set(at_local(ride, 10))
    day, next_day = local_day(ride), local_day(ride, 1)
    out = await through_journey(
        ride, "guangzhou", "guangzhou_metro", "gongyuanqian", "foshan_metro", "zumiao"
    )
    ride.clock.set(at_local(ride, 4, days=1))
    await ride.services.transit.settlements.close_due()

    assert await ride.services.transit.charges.charge_pending() == 1

    for operator, share in (("guangzhou_metro", 236), ("foshan_metro", 364)):
        closed_lines, closed = await settlement_lines(ride, operator, day)
        assert closed["status"] == "closed"
        assert [(line["journey_id"], line["share"], line["charge_status"]) for line in closed_lines] == [
            (out["journey_id"], share, "pending")
        ]
        _, pending = await settlement_lines(ride, operator, next_day)
        assert [
            (a["kind"], a["journey_id"], a["share"], a["charge_status"]) for a in pending["adjustments"]
        ] == [
            ("reversal", out["journey_id"], -share, "pending"),
            ("restatement", out["journey_id"], share, "charged"),
        ]
        assert share_total(pending) == 0


async def test_an_offline_exit_at_a_partners_gate_uploaded_before_its_entry_waits_then_pairs(
    ride: Ride, pg: asyncpg.Connection
) -> None:
    ride.clock.set(at_local(ride, 10))
    entered = ride.clock.now()
    entry_payload = (await ride.code("guangzhou"))["payload"]
    ride.clock.advance(minutes=25)
    exit_payload = (await ride.code("guangzhou"))["payload"]

    foshan, guangzhou = await ride.gate("foshan_metro"), await ride.gate("guangzhou_metro")
    uploads = ride.services.transit.uploads
    exit_tap = uploaded_tap("out-1", exit_payload, "zumiao", "out", ride.clock.now())
    assert (await foshan.post("/v1/gate/taps:batch", {"taps": [exit_tap]}))[1]["accepted"] == 1
    await uploads.drain(settle_seconds=0)
    assert await pg.fetchval("SELECT state FROM tap_uploads WHERE tap_id = 'out-1'") == "waiting"

    entry_tap = uploaded_tap("in-1", entry_payload, "gongyuanqian", "in", entered)
    assert (await guangzhou.post("/v1/gate/taps:batch", {"taps": [entry_tap]}))[1]["accepted"] == 1
    await uploads.drain(settle_seconds=0)
    await uploads.drain(settle_seconds=0)

    rows = await pg.fetch("SELECT operator, status, exit_station, fare_amount, share_weights FROM journeys")
    assert [(r["operator"], r["status"], r["exit_station"], r["fare_amount"]) for r in rows] == [
        ("guangzhou_metro", "completed", "zumiao", 600)
    ]
    assert orjson.loads(rows[0]["share_weights"]) == {"guangzhou_metro": 9000, "foshan_metro": 13800}


async def test_a_settled_journey_repaired_onto_a_partners_lines_alone_is_taken_back_from_its_entry_operator(
    ride: Ride,
) -> None:
    # Entered at Xilang on Guangzhou Metro's gate, closed unfinished at the maximum fare and
    # settled to Guangzhou Metro; repaired after the close to Longxi, the path is all Foshan
    # Metro's: Guangzhou Metro's file must take its share back, or both operators keep the fare.
    ride.clock.set(at_local(ride, 10))
    day, next_day = local_day(ride), local_day(ride, 1)
    gate = await ride.gate("guangzhou_metro")
    opened = await ride.scan(gate, (await ride.code("guangzhou"))["payload"], "xilang")
    ride.clock.advance(minutes=ride.operator("guangzhou_metro").rules.max_journey_minutes + 1)
    await ride.services.transit.journeys.close_overdue()
    ride.clock.set(at_local(ride, 5, days=1))
    await ride.services.transit.settlements.close("guangzhou_metro", date.fromisoformat(day))
    settled, _ = await settlement_lines(ride, "guangzhou_metro", day)
    [(_, max_share)] = [(line["journey_id"], line["share"]) for line in settled]

    status, repaired = await ride.rider.post(
        f"/v1/journeys/{opened['journey_id']}/repair", {"exit_station": "longxi"}
    )
    assert status == 200, repaired
    fare = repaired["fare"]["amount"]

    _, guangzhou = await settlement_lines(ride, "guangzhou_metro", next_day)
    _, foshan = await settlement_lines(ride, "foshan_metro", day)
    assert [(a["kind"], a["share"]) for a in guangzhou["adjustments"]] == [
        ("reversal", -max_share),
        ("restatement", 0),
    ]
    assert [(line["journey_id"], line["share"]) for line in foshan["lines"]] == [(opened["journey_id"], fare)]
    # what both operators settle for the journey, closed day and adjustments, is its fare
    assert max_share + share_total(guangzhou) + share_total(foshan) == fare
