"""GET /v1/me/export: everything held about the rider, masked or (re-authenticated) in clear, as
JSON or a ZIP with QR images and .ics files; large ones in the background with progress."""

from __future__ import annotations

import asyncio
import io
import zipfile
from datetime import datetime, timedelta
from typing import Any

import orjson
import zxingcpp
from PIL import Image

from tests.appointments.conftest import VIDEO
from tests.privacy.conftest import DOCUMENT, NOW, MakeWorld, World
from tests.support import Api
from tests.travel.conftest import signed_in_with_wallet

SECTIONS = {
    "format",
    "generated_at",
    "document_numbers",
    "profile",
    "category_history",
    "sign_in_identities",
    "sessions",
    "documents",
    "consents",
    "data_transfers",
    "access_log",
    "ride_accounts",
    "journeys",
    "debts",
    "bookings",
    "appointments",
}


async def a_ride(world: World) -> None:
    ride = world.ride
    gate = await ride.gate("mtr")
    code = await ride.code("hong_kong")
    assert (await ride.scan(gate, code["payload"], "central"))["decision"] == "open"
    world.clock.advance(minutes=12)
    code = await ride.code("hong_kong")
    assert (await ride.scan(gate, code["payload"], "admiralty", "out"))["decision"] == "open"


async def everything(world: World) -> dict[str, Any]:
    """Rider data of every kind: a paid booking, an appointment (at the video counters, so its
    data was sent: a transfer record), a journey, consents."""
    paid = await world.paid_booking()
    booked = await world.appointment(centre=VIDEO)
    await a_ride(world)
    return {"booking": paid, "appointment": booked}


def qr_text(png: bytes) -> str:
    [decoded] = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)).convert("L"))
    return str(decoded.text)


async def test_the_json_export_holds_every_kind_of_record_with_numbers_masked(world: World) -> None:
    made = await everything(world)
    status, body = await world.rider.get("/v1/me/export")
    assert status == 200, body
    assert set(body) == SECTIONS
    assert body["document_numbers"] == "masked"
    assert body["profile"]["id"] == await world.user_id()
    assert [i["provider"] for i in body["sign_in_identities"]] == ["dev"]
    assert {d["number_masked"] for d in body["documents"]} == {"A*****6(3)", "1*****7(8)"}
    assert all("number" not in d for d in body["documents"])
    assert [b["id"] for b in body["bookings"]] == [made["booking"]["id"]]
    assert [a["id"] for a in body["appointments"]] == [made["appointment"]["id"]]
    assert len(body["journeys"]) == 1 and body["journeys"][0]["exit_station"] == "admiralty"
    assert {c["destination"] for c in body["consents"]} == {"CN"}
    assert [t["reference"] for t in body["data_transfers"]] == [made["appointment"]["id"]]
    assert [a["purpose"] for a in body["access_log"]] == ["carrier_confirmation"]
    assert len(body["ride_accounts"]) == 1
    text = orjson.dumps(body).decode()
    assert "A123456" not in text and "1234567" not in text


async def test_the_export_holds_nothing_of_another_rider(world: World) -> None:
    other = await signed_in_with_wallet(world.api, "another-rider")
    # Another person: one document holds one seat per departure, whoever books it.
    theirs = await world.paid_booking(rider=other, doc={**DOCUMENT, "number": "B111111(1)"})
    await everything(world)
    status, body = await world.rider.get("/v1/me/export")
    assert status == 200
    text = orjson.dumps(body).decode()
    assert theirs["id"] not in text
    assert await world.user_id(other) not in text


async def test_the_export_holds_the_riders_fare_category_and_each_change_of_it(world: World) -> None:
    other = await world.api.sign_in("another-rider", category="elderly")
    world.clock.advance(days=2)
    await world.api.sign_in("privacy-rider", category="student")  # the provider verified a change
    await world.api.sign_in("another-rider", category="child")
    status, body = await world.rider.get("/v1/me/export")
    assert status == 200, body
    assert body["profile"]["category"] == "student"
    history = [(datetime.fromisoformat(c["since"]), c["category"]) for c in body["category_history"]]
    assert history == [(NOW, "adult"), (NOW + timedelta(days=2), "student")]
    text = orjson.dumps(body).decode()
    assert "elderly" not in text and "child" not in text
    assert await world.user_id(other) not in text


async def test_numbers_in_clear_need_a_fresh_sign_in_and_are_logged(world: World) -> None:
    await world.trip.document(DOCUMENT)
    world.clock.advance(minutes=6)  # the session is 6 minutes old: the dev window is 5
    status, body = await world.rider.get("/v1/me/export?document_numbers=clear")
    assert (status, body["error"]["code"]) == (401, "reauthentication_required")
    assert body["error"]["details"]["max_age_seconds"] == 300
    assert await world.pg.fetchval("SELECT count(*) FROM personal_data_access") == 0

    fresh = await world.api.sign_in("privacy-rider")
    status, body = await fresh.get("/v1/me/export?document_numbers=clear")
    assert status == 200, body
    assert [d["number"] for d in body["documents"]] == ["A123456(3)"]
    _, log = await fresh.get("/v1/me/access-log")
    [entry] = log["items"]
    assert (entry["reader_kind"], entry["purpose"]) == ("rider", "export")
    assert entry["reader"] == fresh.token.split(".")[1]  # the session that asked


async def test_the_zip_adds_ticket_and_appointment_qr_images_and_ics_files(world: World) -> None:
    made = await everything(world)
    status, raw = await world.rider.get("/v1/me/export?format=zip")
    assert status == 200
    archive = zipfile.ZipFile(io.BytesIO(raw))
    ticket = made["booking"]["tickets"][0]
    appointment = made["appointment"]
    assert set(archive.namelist()) == {
        "export.json",
        f"tickets/{ticket['id']}.png",
        f"appointments/{appointment['id']}.png",
        f"appointments/{appointment['id']}.ics",
    }
    assert qr_text(archive.read(f"tickets/{ticket['id']}.png")) == ticket["payload"]
    # A check-in code is signed afresh each time: the counter reads this one as the appointment
    # (tomorrow's, hence not_today; a code that is not valid would be invalid_code).
    counter = world.api.as_((await world.services.credentials.issue("counter", VIDEO)).token)
    payload = qr_text(archive.read(f"appointments/{appointment['id']}.png"))
    status, body = await counter.post("/v1/counter/check-ins", {"payload": payload})
    assert (status, body["error"]["code"]) == (409, "not_today")
    assert b"BEGIN:VCALENDAR" in archive.read(f"appointments/{appointment['id']}.ics")
    assert set(orjson.loads(archive.read("export.json"))) == SECTIONS


async def background(make_world: MakeWorld) -> World:
    return await make_world(export_inline_max_records=0)


async def test_a_large_export_is_built_in_the_background_with_progress(make_world: MakeWorld) -> None:
    world = await background(make_world)
    await world.paid_booking()
    status, job = await world.rider.get("/v1/me/export?format=zip")
    assert status == 202, job
    assert (job["status"], job["download_url"]) == ("queued", None)
    assert job["progress"]["total"] >= 3 and job["progress"]["percent"] == 0
    status, again = await world.rider.get("/v1/me/export?format=zip")
    assert (status, again["id"]) == (202, job["id"])  # the one under way, not a second
    assert await world.services.privacy.exports.build_pending() == 1
    status, done = await world.rider.get(f"/v1/me/exports/{job['id']}")
    assert (status, done["status"], done["progress"]["percent"]) == (200, "ready", 100)
    status, raw = await world.rider.get(done["download_url"])
    assert status == 200
    assert "export.json" in zipfile.ZipFile(io.BytesIO(raw)).namelist()


async def test_a_background_export_is_sealed_at_rest(make_world: MakeWorld) -> None:
    world = await background(make_world)
    await world.trip.document(DOCUMENT)
    status, job = await world.rider.get("/v1/me/export?document_numbers=clear")
    assert status == 202, job
    await world.services.privacy.exports.build_pending()
    stored = bytes(await world.pg.fetchval("SELECT content FROM data_exports"))
    assert b"A123456" not in stored and b"documents" not in stored
    status, body = await world.rider.get(f"/v1/me/exports/{job['id']}/file")
    assert status == 200
    assert body["documents"][0]["number"] == "A123456(3)"


async def test_an_export_link_opens_for_its_rider_only_and_clear_ones_only_freshly(
    make_world: MakeWorld,
) -> None:
    world = await background(make_world)
    await world.trip.document(DOCUMENT)
    _, job = await world.rider.get("/v1/me/export?document_numbers=clear")
    await world.services.privacy.exports.build_pending()
    link = f"/v1/me/exports/{job['id']}/file"
    other = await world.api.sign_in("someone-else")
    assert (await other.get(f"/v1/me/exports/{job['id']}"))[0] == 404
    assert (await other.get(link))[0] == 404
    assert (await Api(world.api.client).get(link))[0] == 401
    world.clock.advance(minutes=6)  # the link and the session alone: not enough for clear numbers
    status, body = await world.rider.get(link)
    assert (status, body["error"]["code"]) == (401, "reauthentication_required")
    fresh = await world.api.sign_in("privacy-rider")
    assert (await fresh.get(link))[0] == 200
    world.clock.advance(hours=24)
    status, body = await fresh.get(link)
    assert (status, body["error"]["code"]) == (410, "export_expired")


async def test_two_workers_build_an_export_once_and_a_dead_workers_export_is_taken_over(
    make_world: MakeWorld,
) -> None:
    world = await background(make_world)
    await world.paid_booking()
    _, job = await world.rider.get("/v1/me/export")
    exports = world.services.privacy.exports
    built = await asyncio.gather(exports.build_pending(), exports.build_pending())
    assert sorted(built) == [0, 1]
    assert await world.pg.fetchval("SELECT attempts FROM data_exports") == 1
    # Control: an export whose builder died (lease held, never finished) is built again once the
    # lease has run out, and not before.
    await world.pg.execute(
        "UPDATE data_exports SET status = 'running', content = NULL, lease_until = $1",
        world.clock.now() + timedelta(minutes=5),
    )
    assert await exports.build_pending() == 0
    world.clock.advance(minutes=6)
    assert await exports.build_pending() == 1
    status, done = await world.rider.get(f"/v1/me/exports/{job['id']}")
    assert (status, done["status"]) == (200, "ready")
