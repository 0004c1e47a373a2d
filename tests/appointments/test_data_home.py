"""Hengqin: the applicant's data stays home (issue 11, item 10). Booking a Hengqin service from
Macao transfers no personal data across the boundary (gba.md, "Macao -> Hengqin"): for a centre
configured with `data_stays_in`, no consent is asked and no transfer recorded, the counter sees
reference, service, time and status only, and checks the person by the signed QR (and the
physical document)."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from tests.appointments.conftest import COMMERCIAL, HENGQIN, TOMORROW, Desk, at
from tests.support import FAR_AHEAD

MACAO_ID = {
    "type": "macao_id",
    "holder_name": "CHAN Tai Man",
    "number": "1234567(8)",
    "issuing": "MO",
    "expires": FAR_AHEAD,
}


def data_stays_in(desk: Desk, region: str | None) -> None:
    """The centre's `data_stays_in`, as if config said so."""
    catalogue = desk.services.appointments.catalogue
    catalogue.centres[HENGQIN] = dataclasses.replace(catalogue.centres[HENGQIN], data_stays_in=region)


async def test_without_the_setting_the_data_goes_with_a_consent(desk: Desk) -> None:
    """The negative control: Hengqin as a centre receiving the applicant's data."""
    rider = await desk.another_rider("no-consent", consent=None)
    status, err = await desk.book(at(TOMORROW, "10:00"), COMMERCIAL, rider)
    assert (status, err["error"]["code"]) == (403, "consent_required")


async def test_nothing_crosses_the_boundary_and_the_desk_sees_no_name(desk: Desk) -> None:
    data_stays_in(desk, "MO")
    rider = await desk.another_rider("no-consent", consent=None)
    status, doc = await rider.post("/v1/me/documents", MACAO_ID)
    assert status == 201, doc
    status, booked = await desk.book(at(TOMORROW, "10:00"), COMMERCIAL, rider, document_id=doc["id"])
    assert status == 201, booked  # no consent needed
    status, transfers = await rider.get("/v1/me/data-transfers")
    assert status == 200 and transfers["items"] == []
    assert booked["holder_name"] == "CHAN Tai Man"  # the rider's own view keeps it

    counter = await desk.counter()
    status, day = await counter.get(f"/v1/counter/appointments?date={TOMORROW}")
    assert status == 200 and day["data_stays_in"] == "MO"
    [item] = day["items"]
    assert (item["reference"], item["service_id"], item["start"], item["status"]) == (
        booked["reference"],
        COMMERCIAL,
        booked["start"],
        "booked",
    )
    assert item["holder_name"] is None and item["number_masked"] is None
    assert "CHAN" not in str(day) and "234567" not in str(day)

    desk.clock.set(datetime.fromisoformat(at(TOMORROW, "09:45")))
    # A typed reference is not enough where there is no name to check against the document.
    status, err = await counter.post("/v1/counter/check-ins", {"reference": booked["reference"]})
    assert (status, err["error"]["code"]) == (409, "qr_required")
    status, err = await counter.post(f"/v1/counter/appointments/{booked['id']}/check-in", {})
    assert (status, err["error"]["code"]) == (409, "qr_required")
    status, checked = await counter.post("/v1/counter/check-ins", {"payload": booked["qr"]["payload"]})
    assert status == 200, checked
    status, called = await counter.post("/v1/counter/queue/next", {"counter": "A1"})
    assert status == 200 and called["appointment"]["id"] == booked["id"]
    assert called["appointment"]["holder_name"] is None and called["appointment"]["number_masked"] is None
