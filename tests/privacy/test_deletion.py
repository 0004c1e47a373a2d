"""DELETE /v1/me: after a fresh sign-in and a confirmation step, access ends at once (sessions,
ride codes, device credentials, tickets, appointment QR), future bookings and appointments are
cancelled with refunds, documents are destroyed, and what the law keeps stays under a pseudonym."""

from __future__ import annotations

import base64
from typing import Any

import asyncpg
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bayaffairs.db.queries.erasure import DELETED_WITH_ACCOUNT, REKEYED
from tests.appointments.conftest import HENGQIN, VIDEO
from tests.privacy.conftest import DOCUMENT, MACAO_ID, World
from tests.privacy.test_export import a_ride
from tests.support import Api
from tests.travel.conftest import HZMB


async def prepare(rider: Api) -> dict[str, Any]:
    status, plan = await rider.post("/v1/me/deletion")
    assert status == 201, plan
    return plan


async def delete(world: World) -> tuple[int, Any]:
    """Sign in again (re-authentication), ask, confirm: what the app does."""
    fresh = await world.api.sign_in("privacy-rider")
    plan = await prepare(fresh)
    return await fresh.delete("/v1/me", json={"confirmation": plan["confirmation"]})


async def device_credential(rider: Api) -> dict[str, Any]:
    device = ec.generate_private_key(ec.SECP256R1())
    public = device.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    )
    status, credential = await rider.post(
        "/v1/ride-credentials", {"device_public_key": base64.b64encode(public).decode(), "algorithm": "ES256"}
    )
    assert status == 201, credential
    return credential


async def every_row_as_text(pg: asyncpg.Connection) -> str:
    tables = await pg.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    parts = [
        await pg.fetchval(f"SELECT coalesce(string_agg(t::text, chr(10)), '') FROM \"{r['tablename']}\" t")
        for r in tables
    ]
    return "\n".join(parts)


async def test_deleting_needs_a_fresh_sign_in(world: World) -> None:
    world.clock.advance(minutes=6)
    status, body = await world.rider.post("/v1/me/deletion")
    assert (status, body["error"]["code"]) == (401, "reauthentication_required")
    status, body = await world.rider.delete("/v1/me", json={"confirmation": "x"})
    assert (status, body["error"]["code"]) == (401, "reauthentication_required")
    assert (await world.rider.get("/v1/me"))[0] == 200  # nothing happened


async def test_deleting_needs_the_confirmation_this_session_was_given_in_time(world: World) -> None:
    status, body = await world.rider.delete("/v1/me", json={"confirmation": "guess"})
    assert (status, body["error"]["code"]) == (409, "deletion_not_confirmed")
    assert (await world.rider.delete("/v1/me"))[0] == 400  # no confirmation at all
    plan = await prepare(world.rider)
    other_session = await world.api.sign_in("privacy-rider")
    status, body = await other_session.delete("/v1/me", json={"confirmation": plan["confirmation"]})
    assert (status, body["error"]["code"]) == (409, "deletion_not_confirmed")
    world.clock.advance(minutes=16)  # the code is good for 15 minutes
    fresh = await world.api.sign_in("privacy-rider")
    late = await world.rider.delete("/v1/me", json={"confirmation": plan["confirmation"]})
    assert late[0] == 401  # and the asking session is no longer fresh either
    status, body = await fresh.delete("/v1/me", json={"confirmation": plan["confirmation"]})
    assert (status, body["error"]["code"]) == (409, "deletion_not_confirmed")
    assert (await fresh.get("/v1/me"))[0] == 200


async def test_the_plan_says_what_would_be_cancelled_and_kept(world: World) -> None:
    paid = await world.paid_booking()
    booked = await world.appointment(centre=VIDEO)  # its data went to the mainland centre
    plan = await prepare(world.rider)
    assert [b["id"] for b in plan["bookings_to_cancel"]] == [paid["id"]]
    assert [a["id"] for a in plan["appointments_to_cancel"]] == [booked["id"]]
    assert plan["kept"]["travel_payments"] == 1
    assert plan["kept"]["data_transfers"] == 1


async def test_a_deleted_riders_token_ride_codes_tickets_and_appointment_qr_stop_working_at_once(
    world: World,
) -> None:
    booked = await world.appointment(days=1, hhmm="10:00")
    world.clock.advance(days=1, minutes=65)  # 10:05 at Hengqin: it has started, nobody checked in
    world.rider = await world.api.sign_in("privacy-rider")
    ride = world.ride
    gate = await ride.gate("mtr")
    await a_ride(world)  # a ride before: the account works (the control)
    await world.services.transit.charges.charge_pending()
    code = (await ride.code("hong_kong"))["payload"]
    credential = await device_credential(world.rider)
    paid = await world.paid_booking()
    other_session = await world.api.sign_in("privacy-rider")
    cursor = (await gate.get("/v1/gate/denylist?since=0"))[1]["next_cursor"]

    status, deleted = await delete(world)
    assert status == 200, deleted
    assert deleted["status"] == "deleted"

    for token in (world.rider, other_session):
        status, body = await token.get("/v1/me")
        assert status == 401, body
    answer = await ride.scan(gate, code, "central")
    assert (answer["decision"], answer["reason"]) == ("deny", "denied_account")
    status, delta = await gate.get(f"/v1/gate/denylist?since={cursor}")
    assert status == 200, delta
    denied = {(e["kind"], e["value"]) for e in delta["changes"] if e["action"] == "add"}
    assert ("credential", credential["credential_id"]) in denied
    assert any(kind == "account" for kind, _ in denied)
    device = await world.trip.carrier_device(HZMB)
    ticket = paid["tickets"][0]["payload"]
    _, boarding = await device.post(
        "/v1/carrier/boardings", {"payload": ticket, "departure_id": paid["departure_id"]}
    )
    assert (boarding["decision"], boarding["reason"]) == ("deny", "cancelled")
    counter = world.api.as_((await world.services.credentials.issue("counter", HENGQIN)).token)
    status, body = await counter.post("/v1/counter/check-ins", {"payload": booked["qr"]["payload"]})
    assert (status, body["error"]["code"]) == (409, "appointment_not_active")


async def test_future_bookings_and_appointments_are_cancelled_with_refunds(world: World) -> None:
    paid = await world.paid_booking(hours=30)  # a day ahead: the full refund tier
    booked = await world.appointment()
    status, deleted = await delete(world)
    assert status == 200, deleted
    [cancelled] = deleted["bookings_cancelled"]
    assert cancelled["id"] == paid["id"]
    assert deleted["appointments_cancelled"] == [booked["id"]]
    [refund] = await world.pg.fetch("SELECT amount, currency FROM travel_payments WHERE kind = 'refund'")
    assert cancelled["refund"] == {"amount": refund["amount"], "currency": refund["currency"]}
    assert refund["amount"] > 0
    assert (
        await world.pg.fetchval("SELECT status FROM travel_bookings WHERE id = $1", paid["id"]) == "cancelled"
    )


async def test_documents_go_and_what_the_law_keeps_stays_under_a_pseudonym_without_names(
    world: World,
) -> None:
    user_id = await world.user_id()
    await world.paid_booking(hours=30)
    await world.appointment()  # Hengqin, with the Macao ID
    await world.appointment(days=2, centre=VIDEO)  # a transfer record to keep
    await a_ride(world)
    await world.services.transit.charges.charge_pending()
    payments_before = await world.pg.fetchval("SELECT count(*) FROM travel_payments")
    fingerprint = world.services.documents.cipher.fingerprint("hkid", "A123456(3)").hex()
    # The Macao ID's, which the appointments' quota keeps as the person (`person_key`).
    macao_fingerprint = world.services.documents.cipher.fingerprint("macao_id", "1234567(8)").hex()
    before = await every_row_as_text(world.pg)
    assert fingerprint in before and user_id in before  # the control: the scan finds them
    assert macao_fingerprint in before
    status, deleted = await delete(world)
    assert status == 200, deleted
    pseudonym = deleted["reference"]

    assert await world.pg.fetchval("SELECT count(*) FROM documents") == 0
    assert await world.pg.fetchval("SELECT count(*) FROM users WHERE id = $1", user_id) == 0
    assert await world.pg.fetchval("SELECT erased_at IS NOT NULL FROM users WHERE id = $1", pseudonym)
    assert await world.pg.fetchval("SELECT count(*) FROM travel_payments") == payments_before + 1  # + refund
    for table in ("journeys", "data_transfers", "consents", "travel_bookings", "appointments"):
        owners = await world.pg.fetch(f"SELECT DISTINCT user_id FROM {table}")
        assert [r["user_id"] for r in owners] == [pseudonym], table
    everything = await every_row_as_text(world.pg)
    assert fingerprint not in everything
    assert macao_fingerprint not in everything
    for personal in (
        user_id,
        DOCUMENT["holder_name"],
        MACAO_ID["holder_name"],
        "privacy-rider",
        "A123456",
        "1234567",
    ):
        assert personal not in everything, personal
    # A new sign-in with the same identity is someone new, with nothing of the old account.
    again = await world.api.sign_in("privacy-rider")
    assert await world.user_id(again) != user_id
    status, export = await again.get("/v1/me/export")
    assert status == 200 and export["bookings"] == [] and export["journeys"] == []


async def test_unpaid_debts_block_deletion_and_say_how_to_pay(world: World) -> None:
    await a_ride(world)
    journey = await world.pg.fetchval("UPDATE journeys SET charge_status = 'failed' RETURNING id")
    await world.pg.execute(  # the wallet declined it: a debt (bayaffairs/transit/debts.py)
        """
        INSERT INTO ride_debts (id, journey_id, user_id, operator, amount, currency, incurred_at, created_at)
        SELECT 'dbt_1', id, user_id, operator, fare_amount, fare_currency, entry_at, entry_at FROM journeys
        """
    )
    world.rider = await world.api.sign_in("privacy-rider")
    status, body = await world.rider.post("/v1/me/deletion")
    assert (status, body["error"]["code"]) == (409, "debts_unpaid")
    [debt] = body["error"]["details"]["debts"]
    assert debt["journey_id"] == journey
    assert debt["pay"] == f"POST /v1/me/debts/{debt['id']}/payment"
    assert "GET /v1/me/debts" in body["error"]["message"]
    assert "1 unpaid fare;" in body["error"]["message"]
    assert (await world.rider.get("/v1/me"))[0] == 200


async def test_money_or_travel_under_way_blocks_deletion_until_it_ends(world: World) -> None:
    ride = world.ride
    gate = await ride.gate("mtr")
    tap_in = await ride.scan(gate, (await ride.code("hong_kong"))["payload"], "central")
    assert tap_in["decision"] == "open"
    status, body = await world.rider.post("/v1/me/deletion")
    assert (status, body["error"]["code"]) == (409, "journey_open")
    world.clock.advance(minutes=10)
    tap_out = await ride.scan(gate, (await ride.code("hong_kong"))["payload"], "admiralty", "out")
    assert tap_out["decision"] == "open"
    rider = await world.api.sign_in("privacy-rider")
    status, body = await rider.post("/v1/me/deletion")
    assert (status, body["error"]["code"]) == (409, "charges_pending")
    await world.services.transit.charges.charge_pending()
    assert (await rider.post("/v1/me/deletion"))[0] == 201


async def test_every_reference_to_a_rider_is_either_kept_under_the_pseudonym_or_deleted(
    pg: asyncpg.Connection,
) -> None:
    """A table added later that refers to users must be classified in db/queries/erasure.py."""
    references = await pg.fetch(
        """
        SELECT c.conrelid::regclass::text AS table_name, a.attname AS column_name
        FROM pg_constraint c
        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)
        WHERE c.contype = 'f' AND c.confrelid = 'users'::regclass
        """
    )
    found = {(r["table_name"], r["column_name"]) for r in references}
    assert found == set(REKEYED) | set(DELETED_WITH_ACCOUNT)


async def test_a_deletion_the_database_stops_halfway_has_closed_access_and_is_finished_later(
    world: World,
) -> None:
    """The erasure fails (here: the database refuses the pseudonym): access is closed anyway and
    the job finishes the deletion at its next try."""
    user_id = await world.user_id()
    await world.trip.document(DOCUMENT)
    await world.pg.execute(
        "ALTER TABLE users ADD CONSTRAINT no_pseudonyms CHECK (erased_at IS NULL) NOT VALID"
    )
    try:
        status, deleted = await delete(world)
    finally:
        await world.pg.execute("ALTER TABLE users DROP CONSTRAINT no_pseudonyms")
    assert (status, deleted["status"]) == (202, "deleting")
    assert (await world.rider.get("/v1/me"))[0] == 401
    assert await world.pg.fetchval("SELECT count(*) FROM documents") == 0
    assert await world.pg.fetchval("SELECT count(*) FROM users WHERE id = $1", user_id) == 1
    deletion = world.services.privacy.deletion
    assert await deletion.resume_due() == 0  # not before its retry time
    world.clock.advance(seconds=301)
    assert await deletion.resume_due() == 1
    assert await world.pg.fetchval("SELECT count(*) FROM users WHERE id = $1", user_id) == 0
    assert await world.pg.fetchval("SELECT status FROM account_deletions") == "done"
