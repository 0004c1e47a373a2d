"""Uploaded offline taps are judged by the state at their scan time (issue 15 item 4): revoking a
credential or being denied after the gate opened is no free ride; a tap after it is refused."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bayaffairs.transit.codes import base45
from bayaffairs.transit.codes import format as fmt
from bayaffairs.transit.codes.signatures import sign
from tests.transit.conftest import Ride

pytestmark = pytest.mark.at_two_instants

BUS = "shenzhen_bus"


async def outcome(pg: asyncpg.Connection, tap_id: str) -> tuple[str, str | None, str | None]:
    row = await pg.fetchrow(
        """
        SELECT u.state, u.reason, j.charge_status FROM tap_uploads u
        LEFT JOIN journeys j ON j.id = u.journey_id WHERE u.tap_id = $1
        """,
        tap_id,
    )
    return row["state"], row["reason"], row["charge_status"]


async def test_a_tap_scanned_before_the_account_was_denied_is_charged(
    ride: Ride, pg: asyncpg.Connection
) -> None:
    gate = await ride.gate(BUS)
    before = (await ride.code("shenzhen"))["payload"]
    scanned = ride.clock.now()
    after = (await ride.code("shenzhen"))["payload"]
    account = (await pg.fetchval("SELECT account_token FROM ride_accounts")).hex()
    ride.clock.advance(seconds=20)
    await ride.services.transit.deny_list.change("account", account, "add", "test")
    ride.clock.advance(seconds=20)
    await ride.upload(
        gate,
        [
            ride.offline_tap(BUS, "before", before, scanned),
            ride.offline_tap(BUS, "after", after, ride.clock.now()),
        ],
    )
    assert await outcome(pg, "before") == ("recorded", None, "pending")
    assert await outcome(pg, "after") == ("refused", "denied_account", None)  # control


async def device_credential(ride: Ride) -> tuple[dict[str, Any], ec.EllipticCurvePrivateKey]:
    device = ec.generate_private_key(ec.SECP256R1())
    public = device.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    )
    status, credential = await ride.rider.post(
        "/v1/ride-credentials", {"device_public_key": base64.b64encode(public).decode(), "algorithm": "ES256"}
    )
    assert status == 201
    return credential, device


def device_code(credential: dict[str, Any], device: ec.EllipticCurvePrivateKey, at: datetime, n: int) -> str:
    signed = base64.b64decode(credential["credential"]) + fmt.dynamic_part(int(at.timestamp()), n)
    return base45.encode(signed + sign(device, signed))


async def test_a_tap_scanned_before_the_rider_revoked_the_credential_is_charged(
    ride: Ride, pg: asyncpg.Connection
) -> None:
    gate = await ride.gate(BUS)
    credential, device = await device_credential(ride)
    scanned = ride.clock.now()
    before = device_code(credential, device, scanned, 1)
    ride.clock.advance(seconds=20)
    status, _ = await ride.rider.delete(f"/v1/ride-credentials/{credential['credential_id']}")
    assert status == 204
    ride.clock.advance(seconds=20)
    later = ride.clock.now()
    await ride.upload(
        gate,
        [
            ride.offline_tap(BUS, "before", before, scanned),
            ride.offline_tap(BUS, "after", device_code(credential, device, later, 2), later),
        ],
    )
    assert await outcome(pg, "before") == ("recorded", None, "pending")
    assert await outcome(pg, "after") == ("refused", "revoked", None)  # control


async def test_an_account_let_in_again_is_judged_by_the_entry_in_force_at_the_scan(
    ride: Ride, pg: asyncpg.Connection
) -> None:
    gate = await ride.gate(BUS)
    account_code = (await ride.code("shenzhen"))["payload"]
    account = (await pg.fetchval("SELECT account_token FROM ride_accounts")).hex()
    await ride.services.transit.deny_list.change("account", account, "add", "unpaid")
    ride.clock.advance(seconds=10)
    denied_at = ride.clock.now()
    ride.clock.advance(seconds=10)
    await ride.services.transit.deny_list.change("account", account, "remove", "paid")
    ride.clock.advance(seconds=10)
    payload = (await ride.code("shenzhen"))["payload"]
    await ride.upload(
        gate,
        [
            ride.offline_tap(BUS, "denied", account_code, denied_at),
            ride.offline_tap(BUS, "let-in", payload, ride.clock.now()),
        ],
    )
    assert await outcome(pg, "denied") == ("refused", "denied_account", None)
    assert await outcome(pg, "let-in") == ("recorded", None, "pending")
    assert ride.clock.now() - denied_at < timedelta(minutes=1)
