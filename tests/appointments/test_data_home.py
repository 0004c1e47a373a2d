"""Hengqin: the applicant's data stays home (issue 11, item 10). Booking a Hengqin service from
Macao transfers no personal data across the boundary (gba.md, "Macao -> Hengqin"): the Hengqin
centre is configured with `data_stays_in = "MO"`, so no consent is asked and no transfer recorded,
the counter sees reference, service, time and status only, and checks the person by the signed QR
(and the physical document). Each test has its negative control at Hengqin's remote video
counters in Macao, where the applicant's data does go to Hengqin's staff (`served_from` CN)."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any

from tests.appointments.conftest import COMMERCIAL, HENGQIN, TOMORROW, VIDEO, Desk, at, check_in
from tests.support import FAR_AHEAD, Api

MACAO_ID = {
    "type": "macao_id",
    "holder_name": "CHAN Tai Man",
    "number": "1234567(8)",
    "issuing": "MO",
    "expires": FAR_AHEAD,
}
OTHER_ID = {**MACAO_ID, "holder_name": "LEE Siu Ming", "number": "5234567(1)"}
# What would identify the person: names (the document's and the account's) and document numbers
# (whole or in part; the masked form keeps the first and last characters).
PERSONAL_FIELDS = ("holder_name", "number_masked")


async def with_document(
    desk: Desk, handle: str, document: dict[str, Any], consent: str | None
) -> tuple[Api, str]:
    rider = await desk.another_rider(handle, consent=consent)
    status, doc = await rider.post("/v1/me/documents", document)
    assert status == 201, doc
    return rider, str(doc["id"])


def morning(desk: Desk) -> None:
    desk.clock.set(datetime.fromisoformat(at(TOMORROW, "09:45")))


async def test_hengqin_is_configured_so_that_the_data_stays_in_macao(desk: Desk) -> None:
    status, centres = await desk.api.get("/v1/centres")
    assert status == 200
    stays = {c["id"]: c["data_stays_in"] for c in centres["items"]}
    assert stays[HENGQIN] == "MO"
    assert stays[VIDEO] is None  # the control: the data goes to the video counters' staff


async def test_booking_at_hengqin_asks_no_consent_and_records_no_transfer(desk: Desk, pg: Any) -> None:
    rider, doc = await with_document(desk, "no-consent", MACAO_ID, consent=None)
    status, booked = await desk.book(at(TOMORROW, "10:00"), COMMERCIAL, rider, document_id=doc)
    assert status == 201, booked  # no consent asked
    status, transfers = await rider.get("/v1/me/data-transfers")
    assert status == 200 and transfers["items"] == []
    assert await pg.fetchval("SELECT count(*) FROM data_transfers") == 0
    assert booked["holder_name"] == "CHAN Tai Man"  # the rider's own view keeps it
    # Rescheduled: still nothing crosses.
    status, moved = await rider.post(
        f"/v1/appointments/{booked['id']}/reschedule", {"start": at(TOMORROW, "11:00")}
    )
    assert status == 201, moved
    assert await pg.fetchval("SELECT count(*) FROM data_transfers") == 0


async def test_the_control_at_video_asks_the_consent_and_records_the_transfer(video: Desk, pg: Any) -> None:
    rider, doc = await with_document(video, "mo-no-consent", OTHER_ID, consent=None)
    status, err = await video.book(at(TOMORROW, "10:00"), rider=rider, document_id=doc)
    assert (status, err["error"]["code"]) == (403, "consent_required")
    status, _ = await rider.post("/v1/me/consents", {"destination": "CN", "purpose": "appointment"})
    assert status == 201
    status, booked = await video.book(at(TOMORROW, "10:00"), rider=rider, document_id=doc)
    assert status == 201, booked
    _, transfers = await rider.get("/v1/me/data-transfers")
    [record] = transfers["items"]
    assert (record["origin"], record["destination"], record["reference"]) == ("MO", "CN", booked["id"])
    assert await pg.fetchval("SELECT count(*) FROM data_transfers") == 1


async def everything_the_desk_sees(
    desk: Desk, counter: Api, booked: dict[str, Any], desk_id: str
) -> list[dict[str, Any]]:
    """The day list (full and since 0), the check-in by QR, the call, a recall and the outcome:
    each answer a counter gets about the person, checked in that order."""
    seen = []
    for url in (
        f"/v1/counter/appointments?date={TOMORROW}",
        f"/v1/counter/appointments?date={TOMORROW}&since=0",
    ):
        status, day = await counter.get(url)
        assert status == 200, day
        seen.append(day)
    morning(desk)
    seen.append(await check_in(counter, booked))
    status, called = await counter.post("/v1/counter/queue/next", {"counter": desk_id})
    assert status == 200 and called["appointment"]["id"] == booked["id"], called
    seen.append(called)
    status, recalled = await counter.post(f"/v1/counter/appointments/{booked['id']}/recall")
    assert status == 200, recalled
    seen.append(recalled)
    status, served = await counter.post(
        f"/v1/counter/appointments/{booked['id']}/outcome", {"outcome": "served"}
    )
    assert status == 200, served
    seen.append(served)
    status, day = await counter.get(f"/v1/counter/appointments?date={TOMORROW}")
    seen.append(day)
    return seen


async def test_the_hengqin_desk_sees_reference_service_time_and_status_only(desk: Desk) -> None:
    rider, doc = await with_document(desk, "private", MACAO_ID, consent=None)
    status, booked = await desk.book(at(TOMORROW, "10:00"), COMMERCIAL, rider, document_id=doc)
    assert status == 201, booked
    without_document = await desk.booked(at(TOMORROW, "10:30"), rider=await desk.another_rider("named"))
    counter = await desk.counter()
    status, day = await counter.get(f"/v1/counter/appointments?date={TOMORROW}")
    assert status == 200 and day["data_stays_in"] == "MO"
    items = {i["id"]: i for i in day["items"]}
    assert (items[booked["id"]]["reference"], items[booked["id"]]["service_id"]) == (
        booked["reference"],
        COMMERCIAL,
    )
    assert (items[booked["id"]]["start"], items[booked["id"]]["status"]) == (booked["start"], "booked")
    for item in items.values():
        for name in PERSONAL_FIELDS:
            assert item[name] is None, name
    seen = str(await everything_the_desk_sees(desk, counter, booked, "A1"))
    for personal in ("CHAN", "Tai Man", "1234567", "234567", "1*****7", "Rider named", "Rider private"):
        assert personal not in seen, personal
    assert without_document["reference"] in seen and booked["reference"] in seen


async def test_the_control_at_video_the_desk_sees_the_name_and_masked_number(video: Desk) -> None:
    rider, doc = await with_document(video, "mo-named", OTHER_ID, consent="CN")
    status, booked = await video.book(at(TOMORROW, "10:00"), rider=rider, document_id=doc)
    assert status == 201, booked
    counter = await video.counter()
    seen = await everything_the_desk_sees(video, counter, booked, "V1")
    [item] = seen[0]["items"]
    assert seen[0]["data_stays_in"] is None
    assert (item["holder_name"], item["number_masked"]) == ("LEE Siu Ming", "5*****7(1)")
    for answer in (seen[3]["appointment"], seen[4], seen[5]):
        assert (answer["holder_name"], answer["number_masked"]) == ("LEE Siu Ming", "5*****7(1)")


async def test_at_hengqin_a_typed_reference_does_not_check_in_and_the_signed_qr_does(desk: Desk) -> None:
    """No name to hold against the document: the desk checks the signed code and the document."""
    booked = await desk.booked(at(TOMORROW, "10:00"))
    counter = await desk.counter()
    morning(desk)
    for path, body in (
        ("/v1/counter/check-ins", {"reference": booked["reference"]}),
        ("/v1/counter/check-ins", {"reference": booked["reference"].lower()}),
        (f"/v1/counter/appointments/{booked['id']}/check-in", {}),
    ):
        status, err = await counter.post(path, body)
        assert (status, err["error"]["code"]) == (409, "qr_required"), (path, body)
        assert "QR" in err["error"]["message"]
    status, day = await counter.get(f"/v1/counter/appointments?date={TOMORROW}")
    assert [i["status"] for i in day["items"]] == ["booked"]  # nothing checked in
    status, checked = await counter.post("/v1/counter/check-ins", {"payload": booked["qr"]["payload"]})
    assert (status, checked["appointment_id"], checked["status"]) == (200, booked["id"], "checked_in")
    # Checked in: a typed reference still gets no answer about the person, a scan the same number.
    status, err = await counter.post("/v1/counter/check-ins", {"reference": booked["reference"]})
    assert (status, err["error"]["code"]) == (409, "qr_required")
    again = await check_in(counter, booked)
    assert again["queue_number"] == checked["queue_number"]


async def test_the_control_at_video_a_typed_reference_checks_in(video: Desk) -> None:
    booked = await video.booked(at(TOMORROW, "10:00"))
    counter = await video.counter()
    morning(video)
    status, checked = await counter.post("/v1/counter/check-ins", {"reference": booked["reference"]})
    assert (status, checked["appointment_id"], checked["status"]) == (200, booked["id"], "checked_in")


async def test_a_remote_agency_is_pushed_no_personal_fields_for_a_centre_whose_data_stays_home(
    video: Desk, pg: Any
) -> None:
    """What goes to the agency's own system (the outbox of a remote agency, here Hengqin's video
    counters): the name and masked number as configured (the control), nothing personal once
    the centre's data stays home (as if config said `data_stays_in = "MO"`)."""
    rider, doc = await with_document(video, "mo-pushed", OTHER_ID, consent="CN")
    status, sent = await video.book(at(TOMORROW, "10:00"), rider=rider, document_id=doc)
    assert status == 201, sent
    catalogue = video.services.appointments.catalogue
    catalogue.centres[VIDEO] = dataclasses.replace(catalogue.centres[VIDEO], data_stays_in="MO")
    other, other_doc = await with_document(
        video, "mo-kept", {**OTHER_ID, "holder_name": "WONG Mei Ling", "number": "7234567(3)"}, consent=None
    )
    status, kept = await video.book(at(TOMORROW, "10:30"), rider=other, document_id=other_doc)
    assert status == 201, kept  # no consent asked
    rows = await pg.fetch("SELECT appointment_id, payload FROM agency_outbox WHERE event = 'booked'")
    pushed = {r["appointment_id"]: json.loads(r["payload"])["fields"] for r in rows}
    assert pushed == {
        sent["id"]: {"holder_name": "LEE Siu Ming", "number_masked": "5*****7(1)"},
        kept["id"]: {},
    }
    transfers = await pg.fetch("SELECT reference FROM data_transfers")
    assert [r["reference"] for r in transfers] == [sent["id"]]
