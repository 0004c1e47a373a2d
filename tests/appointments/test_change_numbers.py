"""The centres' change numbers kept in memory per worker (`ChangeNumbers`), and what may miss them.

Two app instances on one PostgreSQL and Redis stand for two workers (or two hosts). A counter's
pull with If-None-Match is answered from the kept number; these tests show that a change becomes
visible: through the other instance's NOTIFY, at once for the instance that made it (whether or
not its own NOTIFY arrived), within `trust_seconds` when notifications stall, and from the
database while the LISTEN session is down.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import asyncpg
import pytest

from bayaffairs.appointments.changes import ChangeNumbers
from bayaffairs.db.queries import appointments as q
from bayaffairs.handlers.keys import SERVICES
from tests.appointments.conftest import HENGQIN, TOMORROW, Desk, at
from tests.conftest import AppFactory
from tests.support import Api

URL = f"/v1/counter/appointments?date={TOMORROW}"


async def pull(counter: Api, etag: str | None = None) -> tuple[int, str, bytes]:
    headers = {"Authorization": f"Bearer {counter.token}"}
    if etag:
        headers["If-None-Match"] = etag
    async with counter.client.get(URL, headers=headers) as resp:
        return resp.status, resp.headers["ETag"], await resp.read()


def changes_of(api: Api) -> ChangeNumbers:
    changes: ChangeNumbers = api.client.server.app[SERVICES].appointments.changes
    return changes


async def until(condition: Callable[[], bool], what: str) -> None:
    """Wait for something another task does (a NOTIFY delivered, a session opened)."""
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"not within 5 s: {what}")


async def other_instance(desk: Desk, make_api: AppFactory) -> Api:
    """A second app on the same database and Redis, with a counter of the same centre."""
    other = await make_api()
    await until(lambda: changes_of(other).live, "the other instance listens")
    return other.as_((await desk.services.credentials.issue("counter", HENGQIN)).token)


async def book_through(other: Api, desk: Desk, name: str, start: str) -> dict[str, Any]:
    """A new rider's booking at Hengqin made through the other instance."""
    rider = await desk.another_rider(name)
    status, booked = await other.as_(rider.token).post(
        "/v1/appointments",
        {
            "centre_id": HENGQIN,
            "service_id": "mo_commercial_registration",
            "start": start,
            "document_id": await desk.own_document(rider),
        },
    )
    assert status == 201, booked
    return dict(booked)


class Held:
    """Notifications kept back from every instance started after this (request the `held`
    fixture before `desk`), delivered on demand: a NOTIFY late by as long as the test likes."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.kept: list[tuple[ChangeNumbers, str]] = []
        hold: Callable[[ChangeNumbers, str], None] = lambda changes, payload: self.kept.append(  # noqa: E731
            (changes, payload)
        )
        self._deliver = ChangeNumbers.heard
        monkeypatch.setattr(ChangeNumbers, "heard", hold)

    def deliver(self) -> None:
        for changes, payload in self.kept:
            self._deliver(changes, payload)
        self.kept.clear()


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> Held:
    return Held(monkeypatch)


def by_hand(changes: ChangeNumbers) -> list[float]:
    """The kept numbers' age by hand: `now[0]` is the monotonic clock of `changes`."""
    now = [1000.0]
    changes._monotonic = lambda: now[0]
    changes._known.clear()  # kept as of the real clock: gone, the next read keeps one by hand
    return now


async def test_a_booking_through_another_instance_is_heard_and_ends_the_304(
    desk: Desk, make_api: AppFactory
) -> None:
    await desk.booked(at(TOMORROW, "09:00"))
    counter = await desk.counter()
    mine = changes_of(desk.api)
    await until(lambda: mine.live, "this instance listens")
    _, etag, before = await pull(counter)
    assert (await pull(counter, etag))[0] == 304
    number = mine.kept(HENGQIN)
    assert number is not None  # kept: the next If-None-Match reads nothing

    other = await other_instance(desk, make_api)
    _, other_etag, _ = await pull(other)
    booked = await book_through(other, desk, "via-other", at(TOMORROW, "10:00"))
    await until(lambda: mine.kept(HENGQIN) == number + 1, "the other instance's change heard here")
    status, new_etag, after = await pull(counter, etag)
    assert status == 200 and new_etag != etag
    assert booked["id"] in {item["id"] for item in json.loads(after)["items"]}
    assert len(json.loads(after)["items"]) == len(json.loads(before)["items"]) + 1
    # And the other way round: a change here ends the other instance's 304.
    await desk.booked(at(TOMORROW, "10:30"), rider=await desk.another_rider("here"))
    await until(lambda: changes_of(other).kept(HENGQIN) in (None, number + 2), "heard there")
    assert (await pull(other, other_etag))[0] == 200


async def test_a_counter_sees_its_own_change_at_once_even_before_its_notify_arrives(
    held: Held, desk: Desk
) -> None:
    """Read-your-writes in the writer's worker does not wait for the NOTIFY: `next` marks the
    centre written, so the kept number is not used until one as new is read or heard."""
    await desk.booked(at(TOMORROW, "09:00"))
    counter = await desk.counter()
    mine = changes_of(desk.api)
    by_hand(mine)
    await until(lambda: mine.live, "this instance listens")
    held.deliver()
    _, etag, _ = await pull(counter)
    assert (await pull(counter, etag))[0] == 304 and mine.kept(HENGQIN) is not None
    rider = await desk.another_rider("walks-in-late")
    await desk.booked(at(TOMORROW, "09:30"), rider=rider)  # a change by this instance ...
    await until(lambda: bool(held.kept), "its NOTIFY comes, and is held back")
    status, new_etag, _ = await pull(counter, etag)
    assert status == 200 and new_etag != etag
    assert (await pull(counter, new_etag))[0] == 304  # read once, kept again
    held.deliver()
    assert (await pull(counter, new_etag))[0] == 304


async def test_negative_control_without_marking_its_own_writes_the_worker_answers_stale(
    held: Held, desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race the marking closes is real: with `next` not marking the centre written and the
    NOTIFY late, the writer's own worker answers 304 for a list that changed."""

    async def unmarked(self: ChangeNumbers, conn: Any, centre_id: str) -> int:
        return await q.next_change(conn, centre_id)

    monkeypatch.setattr(ChangeNumbers, "next", unmarked)
    await desk.booked(at(TOMORROW, "09:00"))
    counter = await desk.counter()
    mine = changes_of(desk.api)
    by_hand(mine)
    await until(lambda: mine.live, "this instance listens")
    held.deliver()
    _, etag, _ = await pull(counter)
    await desk.booked(at(TOMORROW, "09:30"), rider=await desk.another_rider("unseen"))
    await until(lambda: bool(held.kept), "its NOTIFY comes, and is held back")
    assert (await pull(counter, etag))[0] == 304  # stale: the booking is not in the answer
    held.deliver()
    assert (await pull(counter, etag))[0] == 200  # heard: the kept number moved


async def test_with_notifications_stalled_another_instances_change_shows_within_trust_seconds(
    held: Held, desk: Desk, make_api: AppFactory
) -> None:
    await desk.booked(at(TOMORROW, "09:00"))
    counter = await desk.counter()
    mine = changes_of(desk.api)
    now = by_hand(mine)
    await until(lambda: mine.live, "this instance listens")
    _, etag, _ = await pull(counter)
    other = await other_instance(desk, make_api)
    await book_through(other, desk, "stalled", at(TOMORROW, "10:00"))
    await until(lambda: bool(held.kept), "its NOTIFY comes, and is held back")
    now[0] += mine.trust_seconds  # not yet past the bound: the kept number is still used (stale)
    assert (await pull(counter, etag))[0] == 304
    now[0] += 0.001  # past it: read again
    status, new_etag, _ = await pull(counter, etag)
    assert status == 200 and new_etag != etag
    held.deliver()


async def test_while_the_listen_session_is_down_every_pull_reads_and_it_comes_back(
    desk: Desk, pg: asyncpg.Connection
) -> None:
    await desk.booked(at(TOMORROW, "09:00"))
    counter = await desk.counter()
    mine = changes_of(desk.api)
    await until(lambda: mine.live, "this instance listens")
    _, etag, _ = await pull(counter)
    assert mine.kept(HENGQIN) is not None
    ended = await pg.fetchval(
        """SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
           WHERE datname = current_database() AND application_name = $1""",
        "bayaffairs listen appointment_changes",
    )
    assert ended == 1
    await until(lambda: not mine.live, "the loss is noticed")
    assert mine.kept(HENGQIN) is None
    # A change while nobody listens: its NOTIFY is lost, the database still answers.
    await pg.execute("UPDATE appointment_centre_changes SET seq = seq + 1 WHERE centre_id = $1", HENGQIN)
    status, down_etag, _ = await pull(counter, etag)
    assert status == 200 and down_etag != etag
    assert mine.kept(HENGQIN) is None  # nothing kept while down
    await until(lambda: mine.live, "the session is open again")
    assert (await pull(counter, down_etag))[0] == 304
    assert mine.kept(HENGQIN) is not None


def test_a_kept_number_is_not_used_past_trust_seconds_nor_below_a_written_one() -> None:
    now = [0.0]
    changes = ChangeNumbers(db=None, trust_seconds=1.0, monotonic=lambda: now[0])  # type: ignore[arg-type]
    changes.heard("hq:5")
    assert changes.kept("hq") is None  # not listening: nothing kept
    changes.connected()
    changes.heard("hq:5")
    changes.heard("hq:4")  # an older number never replaces a newer one
    assert changes.kept("hq") == 5
    changes._written["hq"] = 6  # this worker took number 6, not committed yet
    assert changes.kept("hq") is None
    changes.heard("hq:6")
    assert changes.kept("hq") == 6 and "hq" not in changes._written
    now[0] = 1.0
    assert changes.kept("hq") == 6
    now[0] = 1.5
    assert changes.kept("hq") is None
    changes.heard("hq:6")  # heard again: fresh
    assert changes.kept("hq") == 6
    changes.heard("garbage")
    changes.heard("hq:x")
    changes.lost()
    assert changes.kept("hq") is None


async def test_a_busy_centres_number_is_refreshed_by_one_read_before_it_runs_out(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past half of `trust_seconds` the first pull starts one read in the background and every
    pull keeps its 304; past the whole of it (nobody pulled meanwhile) each pull in flight reads."""
    await desk.booked(at(TOMORROW, "09:00"))
    counter = await desk.counter()
    mine = changes_of(desk.api)
    now = by_hand(mine)
    await until(lambda: mine.live, "this instance listens")
    _, etag, _ = await pull(counter)
    reads: list[str] = []
    real = q.current_change

    async def counted(conn: Any, centre_id: str) -> int:
        reads.append(centre_id)
        return await real(conn, centre_id)

    monkeypatch.setattr(q, "current_change", counted)
    assert [s for s, _, _ in await asyncio.gather(*(pull(counter, etag) for _ in range(20)))] == [304] * 20
    assert reads == []  # fresh: no read at all
    now[0] += mine.trust_seconds * 0.6
    assert [s for s, _, _ in await asyncio.gather(*(pull(counter, etag) for _ in range(20)))] == [304] * 20
    await until(lambda: not mine._refreshing, "the background read is done")
    assert reads == [HENGQIN]  # one read for twenty pulls ...
    now[0] += mine.trust_seconds * 0.6
    assert mine.kept(HENGQIN) is not None  # ... which renewed the kept number
    now[0] += mine.trust_seconds * 1.1  # nobody pulled for longer than the bound: it ran out
    reads.clear()
    assert [s for s, _, _ in await asyncio.gather(*(pull(counter, etag) for _ in range(5)))] == [304] * 5
    assert len(reads) >= 2  # the herd the refresh avoids: pulls in flight read at once
