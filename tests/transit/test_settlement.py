"""Daily settlement per operator: its currency, its local day, lines that sum to the total."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.transit.conftest import Ride

METRO = "shenzhen_metro"
BUS = "shenzhen_bus"


async def journeys(ride: Ride, count: int) -> None:
    metro, bus = await ride.gate(METRO), await ride.gate(BUS)
    stops = ride.stops(METRO)
    for n in range(count):
        await ride.scan(metro, (await ride.code("shenzhen"))["payload"], stops[n % len(stops)])
        ride.clock.advance(minutes=10)
        await ride.scan(metro, (await ride.code("shenzhen"))["payload"], stops[-1 - n % 3], "out")
        await ride.scan(bus, (await ride.code("shenzhen"))["payload"], ride.stops(BUS)[0])
        ride.clock.advance(minutes=3)


async def operator_api(ride: Ride, operator: str):  # type: ignore[no-untyped-def]
    issued = await ride.services.credentials.issue("operator", operator)
    return ride.api.as_(issued.token)


SHENZHEN = ZoneInfo("Asia/Shanghai")


def local_day(ride: Ride) -> str:
    return ride.clock.today(SHENZHEN).isoformat()


def at_local(ride: Ride, hour: int, minute: int = 0, days: int = 0) -> datetime:
    """`hour`:`minute` in Shenzhen, `days` after the clock's local day there."""
    return datetime.combine(ride.clock.today(SHENZHEN) + timedelta(days=days), time(hour, minute), SHENZHEN)


async def test_lines_sum_to_the_total_in_the_operators_currency(ride: Ride) -> None:
    ride.clock.set(at_local(ride, 10))
    await journeys(ride, 4)
    api = await operator_api(ride, METRO)
    status, day = await api.get(f"/v1/operators/{METRO}/settlements?date={local_day(ride)}")
    assert status == 200
    assert day["currency"] == "CNY" and day["journeys"] == 4 == len(day["items"])
    assert sum(item["fare"]["amount"] for item in day["items"]) == day["total"]["amount"] > 0
    assert {item["fare"]["currency"] for item in day["items"]} == {"CNY"}


async def test_an_operator_sees_only_its_own_settlement(ride: Ride) -> None:
    api = await operator_api(ride, BUS)
    path = f"/v1/operators/{METRO}/settlements?date={local_day(ride)}"
    status, body = await api.get(path)
    assert (status, body["error"]["code"]) == (403, "out_of_scope")
    gate = await ride.gate(METRO)
    assert (await gate.get(path))[0] == 403
    assert (await ride.rider.get(path))[0] == 403


async def test_the_day_is_the_operators_local_day(ride: Ride) -> None:
    # 23:50 in Shenzhen (15:50 UTC); the metro exit ten minutes later falls on the next local day.
    ride.clock.set(at_local(ride, 23, 50))
    today, tomorrow = local_day(ride), (ride.clock.today(SHENZHEN) + timedelta(days=1)).isoformat()
    await journeys(ride, 1)
    api = await operator_api(ride, METRO)
    _, first = await api.get(f"/v1/operators/{METRO}/settlements?date={today}")
    _, second = await api.get(f"/v1/operators/{METRO}/settlements?date={tomorrow}")
    assert (first["journeys"], second["journeys"]) == (0, 1)
    bus_api = await operator_api(ride, BUS)
    _, bus_day = await bus_api.get(f"/v1/operators/{BUS}/settlements?date={tomorrow}")
    assert bus_day["journeys"] == 1


async def test_a_bad_date_is_400(ride: Ride) -> None:
    api = await operator_api(ride, METRO)
    status, body = await api.get(f"/v1/operators/{METRO}/settlements?date=20-11-2026")
    assert status == 400 and "date" in body["error"]["details"]["fields"]


async def test_the_clearing_file_is_the_same_on_every_run(
    ride: Ride, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    ride.clock.set(at_local(ride, 12))
    await journeys(ride, 3)
    day = local_day(ride)
    outputs = []
    for run in ("a", "b"):
        if run == "b":  # journeys of the next day must not change this day's file
            ride.clock.set(at_local(ride, 1, days=1))
            await journeys(ride, 2)
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bayaffairs.cli.main",
            "settlement",
            "run",
            "--date",
            day,
            "--operator",
            METRO,
            "--out",
            str(tmp_path / run),
            "--quiet",
            env={**os.environ, **cli_env},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await process.communicate()
        assert process.returncode == 0, err.decode()
        outputs.append((tmp_path / run / f"{METRO}-{day}.csv").read_text())
    assert outputs[0] == outputs[1]
    lines = [line.split(",") for line in outputs[0].splitlines()]
    fares = [int(row[7]) for row in lines[2:-1]]
    assert len(fares) == 3 and lines[-1][3] == str(sum(fares))
