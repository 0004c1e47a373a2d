"""Daily settlement files per operator: its currency, its local day, open until the day's close,
then closed for good; late arrivals are adjustments of the next day to close."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from multidict import CIMultiDict

from bayaffairs.db.queries import settlements as settlements_q
from tests.commands import run_in_process
from tests.support import Api
from tests.transit.conftest import Ride

METRO = "shenzhen_metro"
BUS = "shenzhen_bus"
SHENZHEN = ZoneInfo("Asia/Shanghai")


async def journeys(ride: Ride, count: int) -> None:
    metro, bus = await ride.gate(METRO), await ride.gate(BUS)
    stops = ride.stops(METRO)
    for n in range(count):
        await ride.scan(metro, (await ride.code("shenzhen"))["payload"], stops[n % len(stops)])
        ride.clock.advance(minutes=10)
        await ride.scan(metro, (await ride.code("shenzhen"))["payload"], stops[-1 - n % 3], "out")
        await ride.scan(bus, (await ride.code("shenzhen"))["payload"], ride.stops(BUS)[0])
        ride.clock.advance(minutes=3)


async def operator_api(ride: Ride, operator: str) -> Api:
    issued = await ride.services.credentials.issue("operator", operator)
    return ride.api.as_(issued.token)


def local_day(ride: Ride, days: int = 0) -> str:
    return (ride.clock.today(SHENZHEN) + timedelta(days=days)).isoformat()


def at_local(ride: Ride, hour: int, minute: int = 0, days: int = 0) -> datetime:
    """`hour`:`minute` in Shenzhen, `days` after the clock's local day there."""
    return datetime.combine(ride.clock.today(SHENZHEN) + timedelta(days=days), time(hour, minute), SHENZHEN)


async def csv_of(api: Api, operator: str, day: str) -> tuple[int, bytes, CIMultiDict[str]]:
    async with api.client.get(
        f"/v1/operators/{operator}/settlements/{day}.csv", headers={"Authorization": f"Bearer {api.token}"}
    ) as resp:
        return resp.status, await resp.read(), resp.headers.copy()


async def all_pages(api: Api, operator: str, day: str, limit: int) -> list[dict[str, Any]]:
    pages, cursor = [], None
    while True:
        path = f"/v1/operators/{operator}/settlements?date={day}&limit={limit}"
        status, page = await api.get(path + (f"&cursor={cursor}" if cursor else ""))
        assert status == 200, page
        pages.append(page)
        cursor = page["next_cursor"]
        if cursor is None:
            return pages


def fare_total(day: dict[str, Any], status: str | None = None) -> int:
    return sum(t["fare"] for t in day["totals"]["fare"] if status in (None, t["charge_status"]))


async def test_lines_sum_to_the_total_in_the_operators_currency(ride: Ride) -> None:
    ride.clock.set(at_local(ride, 10))
    await journeys(ride, 4)
    api = await operator_api(ride, METRO)
    status, day = await api.get(f"/v1/operators/{METRO}/settlements?date={local_day(ride)}")
    assert status == 200
    assert (day["status"], day["closed_at"], day["checksum"]) == ("open", None, None)
    assert day["currency"] == "CNY" and len(day["lines"]) == 4 and day["adjustments"] == []
    assert sum(line["fare"] for line in day["lines"]) == fare_total(day) > 0
    assert {line["currency"] for line in day["lines"]} == {"CNY"}
    assert {line["rider_amount"]["currency"] for line in day["lines"]} == {"HKD"}
    assert sum(t["lines"] for t in day["totals"]["fare"]) == 4
    rider_total = sum(t["amount"] for t in day["totals"]["rider"])
    assert rider_total == sum(line["rider_amount"]["amount"] for line in day["lines"])


async def test_an_operator_sees_only_its_own_settlement(ride: Ride) -> None:
    api = await operator_api(ride, BUS)
    for path in (
        f"/v1/operators/{METRO}/settlements?date={local_day(ride)}",
        f"/v1/operators/{METRO}/settlements/{local_day(ride)}.csv",
    ):
        status, body = await api.get(path)
        assert (status, body["error"]["code"]) == (403, "out_of_scope")
        gate = await ride.gate(METRO)
        assert (await gate.get(path))[0] == 403
        assert (await ride.rider.get(path))[0] == 403


async def test_the_day_is_the_operators_local_day(ride: Ride) -> None:
    # 23:50 in Shenzhen (15:50 UTC); the metro exit ten minutes later falls on the next local day.
    ride.clock.set(at_local(ride, 23, 50))
    today, tomorrow = local_day(ride), local_day(ride, 1)
    await journeys(ride, 1)
    api = await operator_api(ride, METRO)
    _, first = await api.get(f"/v1/operators/{METRO}/settlements?date={today}")
    _, second = await api.get(f"/v1/operators/{METRO}/settlements?date={tomorrow}")
    assert (len(first["lines"]), len(second["lines"])) == (0, 1)
    bus_api = await operator_api(ride, BUS)
    _, bus_day = await bus_api.get(f"/v1/operators/{BUS}/settlements?date={tomorrow}")
    assert len(bus_day["lines"]) == 1


async def test_a_bad_date_or_cursor_is_400(ride: Ride) -> None:
    api = await operator_api(ride, METRO)
    status, body = await api.get(f"/v1/operators/{METRO}/settlements?date=20-11-2026")
    assert status == 400 and "date" in body["error"]["details"]["fields"]
    status, body = await api.get(f"/v1/operators/{METRO}/settlements/20-11-2026.csv")
    assert status == 400 and "date" in body["error"]["details"]["fields"]
    status, body = await api.get(f"/v1/operators/{METRO}/settlements?date={local_day(ride)}&cursor=%25%25")
    assert status == 400 and "cursor" in body["error"]["details"]["fields"]


async def test_a_closed_days_bytes_do_not_follow_a_later_change_of_its_operators_currency(
    ride: Ride, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The header of a closed day's CSV names the currency stored at its close, not the
    configuration's of today: its bytes are what its checksum is of, forever."""
    ride.clock.set(at_local(ride, 10))
    day = local_day(ride)
    await journeys(ride, 2)
    api = await operator_api(ride, METRO)
    settlements = ride.services.transit.settlements
    ride.clock.set(at_local(ride, 4, days=1))
    await settlements.close_due()
    _, before, _ = await csv_of(api, METRO, day)
    assert b",CNY,closed," in before.split(b"\n", 1)[0]
    network = settlements.network
    real = network.operator(METRO)
    changed = dataclasses.replace(real, info=dataclasses.replace(real.info, currency="HKD"))
    monkeypatch.setattr(network, "operator", lambda operator_id: changed if operator_id == METRO else None)
    status, after, headers = await csv_of(api, METRO, day)
    assert status == 200 and after == before
    _, page = await api.get(f"/v1/operators/{METRO}/settlements?date={day}")
    assert hashlib.sha256(after).hexdigest() == page["checksum"] == headers["ETag"].strip('"')


def recoded(cursor: str, *parts: str) -> str:
    """A cursor of the same reading with other positions (as a client could forge one)."""
    reading = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().split("|")[1]
    return base64.urlsafe_b64encode("|".join(("o", reading, *parts)).encode()).decode().rstrip("=")


@pytest.mark.parametrize("position", ["-1", "+1", " 1", "١"])
async def test_a_cursor_position_that_is_not_a_plain_count_is_400(ride: Ride, position: str) -> None:
    """int() takes "-1" (which sliced the adjustments from their end), "+1", " 1" and Arabic-Indic
    digits; a position is a plain count of ASCII digits or the cursor is not one of this list."""
    ride.clock.set(at_local(ride, 10))
    day = local_day(ride)
    await journeys(ride, 3)
    api = await operator_api(ride, METRO)
    _, first = await api.get(f"/v1/operators/{METRO}/settlements?date={day}&limit=2")
    good = recoded(first["next_cursor"], "a", "0")
    status, _ = await api.get(f"/v1/operators/{METRO}/settlements?date={day}&limit=2&cursor={good}")
    assert status == 200  # control: the same cursor with a plain count is one of this list
    forged = recoded(first["next_cursor"], "a", position)
    status, body = await api.get(f"/v1/operators/{METRO}/settlements?date={day}&limit=2&cursor={forged}")
    assert (status, list(body["error"]["details"]["fields"])) == (400, ["cursor"])
    ride.clock.set(at_local(ride, 4, days=1))
    await ride.services.transit.settlements.close_due()
    closed = base64.urlsafe_b64encode(f"c|{position}".encode()).decode().rstrip("=")
    status, body = await api.get(f"/v1/operators/{METRO}/settlements?date={day}&limit=2&cursor={closed}")
    assert (status, list(body["error"]["details"]["fields"])) == (400, ["cursor"])


async def test_a_day_stays_open_until_its_close_then_closes_with_the_checksum_of_its_csv(ride: Ride) -> None:
    ride.clock.set(at_local(ride, 10))
    day = local_day(ride)
    await journeys(ride, 3)
    api = await operator_api(ride, METRO)
    settlements = ride.services.transit.settlements
    ride.clock.set(at_local(ride, 3, 59, days=1))
    await settlements.close_due()
    _, still_open = await api.get(f"/v1/operators/{METRO}/settlements?date={day}")
    assert still_open["status"] == "open"
    assert still_open["closes_at"] == at_local(ride, 4).isoformat()

    ride.clock.set(at_local(ride, 4))
    assert await settlements.close_due() >= 1
    _, closed = await api.get(f"/v1/operators/{METRO}/settlements?date={day}")
    assert closed["status"] == "closed" and closed["closed_at"] == ride.clock.now().isoformat()
    status, body, headers = await csv_of(api, METRO, day)
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    assert hashlib.sha256(body).hexdigest() == closed["checksum"] == headers["ETag"].strip('"')
    rows = body.decode().splitlines()
    assert rows[0].split(",")[:5] == ["# settlement", METRO, day, "CNY", "closed"]
    assert len([r for r in rows if r.startswith("journey,")]) == 3
    assert (await settlements.close_due()) == 0  # nothing left to close; closing again changes nothing
    assert (await csv_of(api, METRO, day))[1] == body


async def test_late_arrivals_are_adjustments_of_the_next_day_and_a_closed_day_never_changes(
    ride: Ride, pg: asyncpg.Connection
) -> None:
    ride.clock.set(at_local(ride, 10))
    day, next_day = local_day(ride), local_day(ride, 1)
    await journeys(ride, 2)
    metro = await ride.gate(METRO)
    forgotten = await ride.scan(metro, (await ride.code("shenzhen"))["payload"], ride.stops(METRO)[0])
    api = await operator_api(ride, METRO)
    settlements = ride.services.transit.settlements
    ride.clock.set(at_local(ride, 4, days=1))
    await settlements.close_due()
    _, closed = await api.get(f"/v1/operators/{METRO}/settlements?date={day}")
    _, before, _ = await csv_of(api, METRO, day)
    assert {line["charge_status"] for line in closed["lines"]} == {"pending"}
    assert forgotten["journey_id"] not in {line["journey_id"] for line in closed["lines"]}  # still open

    # After the close: the charges go through, and the journey never tapped out is closed unfinished.
    assert await ride.services.transit.charges.charge_pending() >= 2
    assert await ride.services.transit.journeys.close_overdue() == 1

    assert await api.get(f"/v1/operators/{METRO}/settlements?date={day}") == (200, closed)
    assert (await csv_of(api, METRO, day))[1] == before
    _, pending = await api.get(f"/v1/operators/{METRO}/settlements?date={next_day}")
    assert pending["status"] == "open" and pending["lines"] == []
    kinds = [(a["kind"], a["journey_id"], a["charge_status"]) for a in pending["adjustments"]]
    charged = [line["journey_id"] for line in closed["lines"]]
    for journey_id in charged:
        assert ("reversal", journey_id, "pending") in kinds
        assert ("restatement", journey_id, "charged") in kinds
    assert ("restatement", forgotten["journey_id"], "pending") in kinds
    assert {a["original_date"] for a in pending["adjustments"]} == {day}
    reversal = next(a for a in pending["adjustments"] if a["kind"] == "reversal")
    assert reversal["fare"] < 0 and reversal["rider_amount"]["amount"] < 0

    ride.clock.set(at_local(ride, 4, days=2))
    await settlements.close_due()
    _, adjusted = await api.get(f"/v1/operators/{METRO}/settlements?date={next_day}")
    assert adjusted["status"] == "closed" and adjusted["adjustments"] == pending["adjustments"]
    moved = sum(line["fare"] for line in closed["lines"])
    assert fare_total(adjusted, "charged") == moved
    unfinished = next(
        a["fare"] for a in adjusted["adjustments"] if a["journey_id"] == forgotten["journey_id"]
    )
    assert fare_total(adjusted, "pending") == unfinished - moved
    # Nothing changed since: the day after has nothing to adjust.
    _, quiet = await api.get(f"/v1/operators/{METRO}/settlements?date={local_day(ride, 2)}")
    assert quiet["adjustments"] == []
    today = ride.clock.today(SHENZHEN)
    assert await pg.fetchval("SELECT count(*) FROM settlement_lines WHERE day = $1", today) == 0


async def test_pages_cover_every_line_once_open_or_closed(ride: Ride) -> None:
    ride.clock.set(at_local(ride, 10))
    day = local_day(ride)
    await journeys(ride, 5)
    api = await operator_api(ride, METRO)
    open_pages = await all_pages(api, METRO, day, limit=2)
    assert [len(p["lines"]) for p in open_pages] == [2, 2, 1]
    ids = [line["journey_id"] for p in open_pages for line in p["lines"]]
    ride.clock.set(at_local(ride, 4, days=1))
    await ride.services.transit.settlements.close_due()
    closed_pages = await all_pages(api, METRO, day, limit=2)
    assert [line["journey_id"] for p in closed_pages for line in p["lines"]] == ids
    assert len(set(ids)) == 5
    status, body = await api.get(
        f"/v1/operators/{METRO}/settlements?date={day}&limit=2&cursor={open_pages[0]['next_cursor']}"
    )
    assert (status, body["error"]["code"]) == (409, "settlement_cursor_stale")


async def run_cli(cli_env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = await run_in_process(cli_env, "settlement", *args)
    return result.status, result.stdout, result.stderr


async def test_the_close_command_closes_a_day_that_is_over_and_nothing_else(
    ride: Ride, cli_env: dict[str, str]
) -> None:
    """The command runs on the wall clock, so it closes a day long over and refuses one ahead."""
    past, future = "2020-01-15", (ride.clock.today(SHENZHEN) + timedelta(days=3650)).isoformat()
    code, out, err = await run_cli(cli_env, "close", "--date", past, "--operator", METRO)
    assert code == 0, err
    assert f"{METRO} {past}: closed, 0 lines, 0 adjustments, sha256 " in out
    code, out, _ = await run_cli(cli_env, "close", "--date", past, "--operator", METRO)
    assert (code, out.strip()) == (0, f"{METRO}: {past} was closed already")
    code, _, err = await run_cli(cli_env, "close", "--date", future, "--operator", METRO)
    assert code == 2 and "is not over yet" in err
    code, _, err = await run_cli(cli_env, "close", "--date", past, "--operator", "nowhere")
    assert code == 2 and "unknown operator" in err


async def test_the_clearing_file_is_the_same_on_every_run(
    ride: Ride, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    ride.clock.set(at_local(ride, 12))
    await journeys(ride, 3)
    day = local_day(ride)
    ride.clock.set(at_local(ride, 4, days=1))
    await ride.services.transit.settlements.close_due()
    outputs = []
    for run in ("a", "b"):
        if run == "b":  # journeys of the next day must not change this day's file
            await journeys(ride, 2)
        code, _, err = await run_cli(
            cli_env, "run", "--date", day, "--operator", METRO, "--out", str(tmp_path / run), "--quiet"
        )
        assert code == 0, err
        outputs.append((tmp_path / run / f"{METRO}-{day}.csv").read_bytes())
    assert outputs[0] == outputs[1]
    api = await operator_api(ride, METRO)
    _, closed = await api.get(f"/v1/operators/{METRO}/settlements?date={day}")
    assert hashlib.sha256(outputs[0]).hexdigest() == closed["checksum"]
    rows = [line.split(",") for line in outputs[0].decode().splitlines()]
    fares = [int(row[12]) for row in rows if row[0] == "journey"]
    totals = [row for row in rows if row[0] == "# total" and row[1] == "fare"]
    assert len(fares) == 3 and sum(int(row[7]) for row in totals) == sum(fares)


async def test_an_open_days_totals_are_computed_once_for_its_pages(
    ride: Ride, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Totals read the whole day: the pages of one reading share the first page's, instead of
    each page reading the day again (a day of a million journeys has a thousand pages)."""
    ride.clock.set(at_local(ride, 10))
    day = local_day(ride)
    await journeys(ride, 5)
    api = await operator_api(ride, METRO)
    computed = 0
    real = settlements_q.day_journey_totals

    async def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal computed
        computed += 1
        return await real(*args, **kwargs)

    monkeypatch.setattr(settlements_q, "day_journey_totals", counted)
    pages = await all_pages(api, METRO, day, limit=2)
    assert len(pages) == 3 and computed == 1
    assert all(p["totals"] == pages[0]["totals"] for p in pages)
    assert fare_total(pages[0]) == sum(line["fare"] for p in pages for line in p["lines"])
    # A new reading (no cursor) reads the day as it is now.
    await journeys(ride, 1)
    again = await all_pages(api, METRO, day, limit=2)
    assert computed == 2
    assert fare_total(again[0]) == sum(line["fare"] for p in again for line in p["lines"])
    assert fare_total(again[0]) > fare_total(pages[0])


@pytest.mark.parametrize("outcome", ["charged", "failed"])
async def test_a_charge_outcome_after_the_close_reaches_the_file_however_long_before_its_journey_was_written(
    ride: Ride, pg: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch, outcome: str
) -> None:
    """A close rereads the journeys changed since the last close (less late_margin_minutes), by
    their updated_at: the charging job's outcome must move it (0056 claims without writing the
    journey; the outcome is its one write, and journeys_touch of 0025 moves updated_at for any
    write), or the charge of a journey written long before the close never reaches the
    operator's files."""
    if outcome == "failed":
        monkeypatch.setitem(ride.services.transit.charges.providers("demo").settings, "decline_over", 1)
    ride.clock.set(at_local(ride, 10))
    day, next_day = local_day(ride), local_day(ride, 1)
    bus = await ride.gate(BUS)
    journey_id = (await ride.scan(bus, (await ride.code("shenzhen"))["payload"], ride.stops(BUS)[0]))[
        "journey_id"
    ]
    api = await operator_api(ride, BUS)
    ride.clock.set(at_local(ride, 4, days=1))
    await ride.services.transit.settlements.close_due()
    _, closed = await api.get(f"/v1/operators/{BUS}/settlements?date={day}")
    assert [(line["journey_id"], line["charge_status"]) for line in closed["lines"]] == [
        (journey_id, "pending")
    ]
    await pg.execute("UPDATE journeys SET updated_at = now() - interval '1 day'")  # written long before

    assert await ride.services.transit.charges.charge_pending() == 1

    _, adjusted = await api.get(f"/v1/operators/{BUS}/settlements?date={next_day}")
    kinds = [(a["kind"], a["journey_id"], a["charge_status"]) for a in adjusted["adjustments"]]
    assert kinds == [("reversal", journey_id, "pending"), ("restatement", journey_id, outcome)]
