"""The set-wise tap-in statement (`_RECORD_FIXED_TAP_INS` in db/queries/journeys.py) calls
tap_refusal() only for a tap that carries a credential (a device code) or whose account the deny
list has ever named: the function refuses nothing else, and a call of it costs about 20x the
index probe that spares it (10,000 calls on a loaded machine: 0.57-0.79 s as the sql function,
0.83-1.0 s as today's PL/pgSQL with its generic plan, against 0.02-0.05 s for the guard), a
sixth of the offline drain's database time per tap (issue 15, throughput).

That guard is only right while tap_refusal() is the function it was written against, so its
definition is pinned here. Whoever changes the function checks that it still refuses only a
credential or an account on the deny list (or widens the guard to match), then updates DIGEST.

The other tests take the set-wise statement (a tap-in at a flat-fare bus, alone in its batch:
a rider with two taps in one batch goes through record_scans() instead) and check what the
guard must still refuse, by scan time: an account on the deny list, a revoked credential.
"""

from __future__ import annotations

import hashlib

import asyncpg
import pytest

from tests.transit.conftest import Ride
from tests.transit.test_scan_time_validity import BUS, device_code, device_credential, outcome

pytestmark = pytest.mark.at_two_instants

DIGEST = "f63ef8b00d17de28ae8f113b69d5bd37f878df137b1d2aa81d49d4e45e016bda"  # db/functions/tap_refusal.sql


async def test_tap_refusal_is_the_function_the_tap_in_guard_was_written_for(pg: asyncpg.Connection) -> None:
    text = await pg.fetchval(
        "SELECT pg_get_functiondef('tap_refusal(text, text, timestamptz, boolean)'::regprocedure)"
    )
    digest = hashlib.sha256(" ".join(text.split()).encode()).hexdigest()
    assert digest == DIGEST, (
        "tap_refusal() (db/functions/tap_refusal.sql) changed: check the guard before its call in "
        "_RECORD_FIXED_TAP_INS (db/queries/journeys.py), then update DIGEST in this file"
    )


async def upload_alone(ride: Ride, tap_: dict[str, object]) -> None:
    """One tap in its batch, drained at once: its rider has no other tap there, so the drain
    records it with the set-wise tap-in statement."""
    gate = await ride.gate(BUS)
    status, result = await gate.post("/v1/gate/taps:batch", {"taps": [tap_]})
    assert (status, result["accepted"]) == (200, 1), result
    await ride.services.transit.uploads.drain(settle_seconds=0)


async def test_a_denied_account_is_refused_by_the_set_wise_tap_in_from_the_time_of_its_denial(
    ride: Ride, pg: asyncpg.Connection
) -> None:
    before = (await ride.code("shenzhen"))["payload"]
    scanned = ride.clock.now()
    after = (await ride.code("shenzhen"))["payload"]
    online = (await ride.code("shenzhen"))["payload"]
    account = (await pg.fetchval("SELECT account_token FROM ride_accounts")).hex()
    ride.clock.advance(seconds=20)
    await ride.services.transit.deny_list.change("account", account, "add", "test")
    ride.clock.advance(seconds=20)
    await upload_alone(ride, ride.offline_tap(BUS, "after", after, ride.clock.now()))
    assert await outcome(pg, "after") == ("refused", "denied_account", None)
    await upload_alone(ride, ride.offline_tap(BUS, "before", before, scanned))
    assert await outcome(pg, "before") == ("recorded", None, "pending")
    answer = await ride.scan(await ride.gate(BUS), online, ride.stops(BUS)[0])
    assert (answer["decision"], answer["reason"]) == ("deny", "denied_account")


async def test_a_revoked_credential_is_refused_by_the_set_wise_tap_in_from_its_revocation(
    ride: Ride, pg: asyncpg.Connection
) -> None:
    credential, device = await device_credential(ride)
    scanned = ride.clock.now()
    before = device_code(credential, device, scanned, 1)
    ride.clock.advance(seconds=20)
    status, _ = await ride.rider.delete(f"/v1/ride-credentials/{credential['credential_id']}")
    assert status == 204
    ride.clock.advance(seconds=20)
    later = ride.clock.now()
    await upload_alone(ride, ride.offline_tap(BUS, "after", device_code(credential, device, later, 2), later))
    assert await outcome(pg, "after") == ("refused", "revoked", None)
    await upload_alone(ride, ride.offline_tap(BUS, "before", before, scanned))
    assert await outcome(pg, "before") == ("recorded", None, "pending")
