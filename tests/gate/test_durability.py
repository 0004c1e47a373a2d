"""The gate's memory survives a crash: `kill -9` of a real gate process in the middle of a stream
of taps, then a restart on the same store. No tap lost, no code accepted twice, riders still
inside, tap ids unique across the restarts."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from bayaffairs.gate.client import GateClient
from bayaffairs.gate.offline import REOPEN_SECONDS, OfflineGate
from bayaffairs.gate.store import GateStore
from tests.support import Api
from tests.transit.conftest import Ride

METRO = "shenzhen_metro"
RIDERS = 12
ROOT = Path(__file__).resolve().parents[2]


def now(ride: Ride) -> int:
    return int(ride.clock.now().timestamp())


async def gate_client(ride: Ride) -> GateClient:
    token = (await ride.gate(METRO)).token
    assert token is not None
    client: TestClient = ride.api.client
    return GateClient(client.session, str(client.make_url("")), token)


async def rider_with_wallet(ride: Ride, handle: str) -> Api:
    rider = await ride.api.sign_in(handle)
    status, _ = await rider.put("/v1/me/wallet", {"currency": "HKD", "provider": "demo"})
    assert status == 200
    return rider


async def run_gate(
    store: Path, station: str, taps: list[dict[str, Any]], kill_after: int | None
) -> list[dict[str, Any]]:
    """Run a gate process over `taps`; with `kill_after`, SIGKILL it once it has answered that
    many (it is still deciding the rest). The decisions it printed, in order."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.gate.gate_process",
        str(store),
        "gate-7",
        station,
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdin is not None and process.stdout is not None
    stdin = process.stdin

    async def feed() -> None:
        stdin.write("".join(json.dumps(t) + "\n" for t in taps).encode())
        await stdin.drain()
        stdin.close()

    feeding = asyncio.ensure_future(feed())
    answers = []
    while line := await asyncio.wait_for(process.stdout.readline(), timeout=60):
        answers.append(json.loads(line))
        if kill_after is not None and len(answers) == kill_after:
            process.send_signal(signal.SIGKILL)
            break
    returncode = await process.wait()
    feeding.cancel()
    with contextlib.suppress(asyncio.CancelledError, ConnectionResetError, BrokenPipeError):
        await feeding
    assert returncode == (-signal.SIGKILL if kill_after is not None else 0)
    return answers


async def test_a_killed_gate_loses_no_tap_and_accepts_no_code_twice(ride: Ride, tmp_path: Path) -> None:
    station = ride.stops(METRO)[0]
    store = tmp_path / "station.sqlite3"
    client = await gate_client(ride)
    await client.sync(OfflineGate(gate_id="gate-7", station=station, store=GateStore(store)), now=now(ride))
    riders = [await rider_with_wallet(ride, f"rider-{i}") for i in range(RIDERS)]
    entry = [(await ride.code("shenzhen", r))["payload"] for r in riders]
    second = [(await ride.code("shenzhen", r))["payload"] for r in riders]
    t = now(ride)

    def taps(codes: list[str], direction: str, at: int, times: int = 1) -> list[dict[str, Any]]:
        return [
            tap for code in codes for tap in ({"payload": code, "direction": direction, "now": at},) * times
        ]

    # Each rider taps in, and the same code is shown again at once (a replay). After each restart
    # every code comes again, past the time in which a gate reopens for a tap it recorded before
    # its restart (test_reopening.py); then a new code, refused while the rider is inside, and the
    # same code taps out.
    later = t + REOPEN_SECONDS + 1
    entries = taps(entry, "in", t, times=2)
    first = await run_gate(store, station, entries, kill_after=9)
    fed = taps(entry, "in", later, times=2) + taps(second, "in", later) + taps(second, "out", later)
    again = await run_gate(store, station, fed, kill_after=len(entries) + RIDERS + 7)
    final = later + REOPEN_SECONDS + 1
    last_fed = taps(entry, "in", final, times=2) + taps(second, "out", final)
    last = await run_gate(store, station, last_fed, kill_after=None)
    assert len(first) < len(entries) and len(again) < len(fed)  # both killed mid-stream
    assert (
        again[len(entries) : len(entries) + RIDERS]
        == [{"decision": "deny", "reason": "unfinished_journey", "tap_id": None}] * RIDERS
    )  # still inside after the restart

    answers = first + again + last
    opened = [a for a in answers if a["decision"] == "open"]
    opened_codes = Counter(
        (tap["payload"], tap["direction"])
        for run, given in ((first, entries), (again, fed), (last, last_fed))
        for tap, a in zip(given, run, strict=False)
        if a["decision"] == "open"
    )
    assert max(opened_codes.values()) == 1  # no code accepted twice, whatever the restarts
    assert last[: len(entries)] == [{"decision": "deny", "reason": "replayed", "tap_id": None}] * len(entries)

    gate = OfflineGate(gate_id="gate-7", station=station, store=GateStore(store))
    queued = gate.store.pending("gate-7", 10_000)
    queued_ids = [tap["tap_id"] for _, tap in queued]
    assert len(set(queued_ids)) == len(queued_ids)  # tap ids unique across restarts
    assert {a["tap_id"] for a in opened} <= set(queued_ids)  # every open is queued: no tap lost
    assert Counter((tap["payload"], tap["direction"]) for _, tap in queued) == Counter(
        [(code, "in") for code in entry] + [(code, "out") for code in second]
    )  # one tap-in and one tap-out per rider, the one a kill interrupted included
    assert len(queued) - len(opened) <= 2  # at most one tap per kill decided but never answered

    assert await client.upload(gate) == {"accepted": 2 * RIDERS, "duplicates": 0, "rejected": 0}
    assert gate.store.pending("gate-7", 10) == []

    # The control: a gate that lost its memory (a new file) opens for a code already used.
    amnesiac = OfflineGate(gate_id="gate-8", station=station, store=GateStore(tmp_path / "new.sqlite3"))
    await client.sync(amnesiac, now=t)
    assert amnesiac.validate(entry[0], "in", t).decision == "open"


async def test_taps_stay_queued_until_the_service_has_them(ride: Ride, tmp_path: Path) -> None:
    station = ride.stops(METRO)[0]
    client = await gate_client(ride)
    gate = OfflineGate(gate_id="gate-7", station=station, store=GateStore(tmp_path / "g.sqlite3"))
    await client.sync(gate, now=now(ride))
    assert gate.validate((await ride.code("shenzhen"))["payload"], "in", now(ride)).decision == "open"
    revoked = GateClient(client.session, client.base_url, "bya.crd_none." + "x" * 43)
    with pytest.raises(aiohttp.ClientResponseError):
        await revoked.upload(gate)  # refused (401): nothing leaves the queue
    assert len(gate.store.pending("gate-7", 10)) == 1
    assert await client.upload(gate) == {"accepted": 1, "duplicates": 0, "rejected": 0}
    assert gate.store.pending("gate-7", 10) == []


def test_the_store_commits_to_disk_before_a_gate_opens(tmp_path: Path) -> None:
    store = GateStore(tmp_path / "g.sqlite3")
    pragmas = {p: store._conn.execute(f"PRAGMA {p}").fetchone()[0] for p in ("journal_mode", "synchronous")}
    assert pragmas == {"journal_mode": "wal", "synchronous": 2}  # 2: FULL, the WAL fsync-ed at each commit
