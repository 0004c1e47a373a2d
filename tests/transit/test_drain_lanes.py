"""Drain lanes claim disjoint sets of uploads (issue 15, throughput; 0051_tap_upload_slots.sql):
an upload carries its rider's slot, a lane holds one slot at a time, and claims only its
uploads, so no two lanes step over each other's rows or hold one rider's taps at once."""

from __future__ import annotations

import asyncio
import os

import asyncpg
import pytest

from bayaffairs.db.queries import tap_uploads as q
from bayaffairs.transit.codes import base45
from bayaffairs.transit.codes import format as fmt
from bayaffairs.transit.uploads import MAX_AGE, slot_of
from tests.support import Api
from tests.transit.conftest import Ride, uploaded_tap

pytestmark = pytest.mark.at_two_instants

BUS = "shenzhen_bus"  # tap-in only: every tap completes a journey of its own


async def upload_rides(ride: Ride, riders: list[Api], rides: int) -> list[str]:
    """`rides` bus taps of each rider, three minutes apart (no double taps), uploaded in one
    batch; returns their tap ids."""
    gate = await ride.gate(BUS)
    stop = ride.stops(BUS)[0]
    taps = []
    for n in range(rides):
        for r, rider in enumerate(riders):
            payload = (await ride.code("shenzhen", rider))["payload"]
            taps.append(uploaded_tap(f"t{r}-{n}", payload, stop, "in", ride.clock.now()))
        ride.clock.advance(minutes=3)
    status, result = await gate.post("/v1/gate/taps:batch", {"taps": taps})
    assert (status, result["accepted"]) == (200, len(taps)), result
    return [t["tap_id"] for t in taps]


async def test_an_upload_is_stored_with_its_riders_slot(ride: Ride, pg: asyncpg.Connection) -> None:
    [tap_id] = await upload_rides(ride, [ride.rider], 1)
    payload = await pg.fetchval("SELECT payload FROM tap_uploads WHERE tap_id = $1", tap_id)
    account = fmt.decode_text(payload).account
    assert await pg.fetchval("SELECT slot FROM tap_uploads WHERE tap_id = $1", tap_id) == slot_of(account)
    assert 0 <= slot_of(account) < q.SLOTS


async def test_a_second_lane_does_not_claim_a_slot_a_lane_holds(ride: Ride, pg: asyncpg.Connection) -> None:
    await upload_rides(ride, [ride.rider], 3)
    [slot] = [r["slot"] for r in await pg.fetch("SELECT DISTINCT slot FROM tap_uploads")]
    uploads = ride.services.transit.uploads
    order = [(slot + i) % q.SLOTS for i in range(q.SLOTS)]
    window = ride.clock.now() - MAX_AGE
    async with uploads.db.transaction() as first, uploads.db.transaction() as second:
        assert await q.take_slot(first, order, 0, window) == slot
        claimed = await q.claim_pending(first, slot, 1, 0, window)
        assert [u.tap_id for u in claimed] == ["t0-0"]  # the oldest, in scan order
        # The rider's other two uploads are due, but their slot is held: nothing for a second lane.
        assert await q.take_slot(second, order, 0, window) is None
        # Negative control: a lane claiming the slot without holding it would take the rider's
        # next tap while the first lane decides the one before it.
        behind = await q.claim_pending(second, slot, 1, 0, window)
        assert [u.tap_id for u in behind] == ["t0-1"]


async def test_lanes_of_two_workers_at_once_decide_every_upload_once(
    ride: Ride, pg: asyncpg.Connection
) -> None:
    riders = [ride.rider] + [await ride.api.sign_in(f"rider-{n}") for n in range(3)]
    for rider in riders[1:]:
        status, _ = await rider.put("/v1/me/wallet", {"currency": "HKD", "provider": "demo"})
        assert status == 200
    tap_ids = await upload_rides(ride, riders, 6)
    uploads = ride.services.transit.uploads
    decided = await asyncio.gather(
        uploads.drain(limit=2, settle_seconds=0, lanes=3), uploads.drain(limit=2, settle_seconds=0, lanes=3)
    )
    assert sum(decided) == len(tap_ids)
    states = await pg.fetch("SELECT tap_id, state, journey_id FROM tap_uploads")
    assert sorted(s["tap_id"] for s in states) == sorted(tap_ids)
    assert {s["state"] for s in states} == {"recorded"}
    assert len({s["journey_id"] for s in states}) == len(tap_ids)
    assert await pg.fetchval("SELECT count(*) FROM taps") == len(tap_ids)
    journeys = await pg.fetch("SELECT id, status, fare_amount FROM journeys")
    assert len(journeys) == len(tap_ids)
    assert {j["id"] for j in journeys} == {s["journey_id"] for s in states}
    assert all(j["status"] == "completed" and j["fare_amount"] for j in journeys)


async def test_the_databases_slot_of_a_payload_is_slot_of_its_account(pg: asyncpg.Connection) -> None:
    """upload_slot() (0052_upload_slots_for_every_rider.sql) gave the uploads stored before
    0051 their slots: the same as slot_of, for every kind of code and every slot."""
    signature = bytes(range(64))
    payloads = {}
    for first in range(0, 256, 3):
        account = bytes([first]) + os.urandom(7)
        issuer = fmt.issuer_code_body(7, 1_900_000_000, 60, 0, account, os.urandom(8))
        group = fmt.issuer_code_body(7, 1_900_000_000, 60, 0, account, os.urandom(8), riders=3)
        credential = fmt.credential_body(
            7, 1_900_000_000, 1_900_086_400, 0, account, os.urandom(8), bytes(33)
        )
        device = credential + signature + fmt.dynamic_part(1_900_000_000, first)
        for kind, data in (("issuer", issuer), ("group", group), ("device", device)):
            payload = base45.encode(data + signature)
            assert fmt.decode_text(payload).account == account
            payloads[payload] = (kind, slot_of(account))
    found = await pg.fetch("SELECT p, upload_slot(p) AS slot FROM unnest($1::text[]) AS p", list(payloads))
    assert {r["p"]: r["slot"] for r in found} == {p: slot for p, (_, slot) in payloads.items()}
    assert {slot for _, slot in payloads.values()} == set(range(q.SLOTS))


def test_a_riders_slot_comes_from_the_account_token() -> None:
    accounts = [bytes([b]) + bytes(7) for b in range(256)]
    slots = [slot_of(a) for a in accounts]
    assert set(slots) == set(range(q.SLOTS))
    assert all(slots.count(s) == 256 // q.SLOTS for s in range(q.SLOTS))  # an even spread
