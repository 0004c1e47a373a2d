"""Centres renamed without their appointments (04cb674): Hong Kong's cross-boundary desks
`qianhai_hk_services`, `hetao_hk_services` and `guangzhou_hk_services` became the kiosks
`qianhai_hk_kiosk`, `hetao_hk_kiosk` and `guangzhou_hk_kiosk`. No old id became a bookable
centre, so no appointment can be moved to one: an appointment stored at an old id stays
readable (its times in the place's zone, .ics, cancel) and a reschedule says why it cannot be
(409 centre_not_bookable), where all of these answered 404 centre_not_found."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from bayaffairs.appointments.catalogue import Catalogue
from tests.appointments.conftest import DAY_AFTER, TOMORROW, Desk, at

RENAMED = {
    "qianhai_hk_services": "qianhai_hk_kiosk",
    "hetao_hk_services": "hetao_hk_kiosk",
    "guangzhou_hk_services": "guangzhou_hk_kiosk",
}


async def stored_at(desk: Desk, pg: Any, old_id: str) -> dict[str, Any]:
    """An appointment as the desks before the rename stored it: booked, at the old id, for a
    Hong Kong service (written over a Hengqin booking: the old desks can no longer be booked)."""
    booked = await desk.booked(at(TOMORROW, "10:00"))
    await pg.execute(
        "UPDATE appointments SET centre_id = $2, agency_id = 'hk_cross_boundary',"
        " service_id = 'hk_tax_enquiry', counter_id = 'Q1' WHERE id = $1",
        booked["id"],
        old_id,
    )
    return booked


@pytest.mark.parametrize("old_id", sorted(RENAMED))
async def test_an_appointment_at_a_renamed_desk_reads_and_cancels(desk: Desk, pg: Any, old_id: str) -> None:
    booked = await stored_at(desk, pg, old_id)
    status, shown = await desk.rider.get(f"/v1/appointments/{booked['id']}")
    assert status == 200, shown
    assert (shown["centre_id"], shown["start"]) == (old_id, at(TOMORROW, "10:00"))  # the place's zone
    status, ics = await desk.rider.get(f"/v1/appointments/{booked['id']}.ics")
    assert status == 200, ics
    kiosk = desk.services.appointments.catalogue.centre(RENAMED[old_id])
    text = ics.decode().replace("\r\n ", "")  # unfolded
    location = kiosk.name.en.replace(",", "\\,")
    assert "DTSTART:20" in text and f"LOCATION:{location}" in text, text
    status, err = await desk.rider.post(
        f"/v1/appointments/{booked['id']}/reschedule", {"start": at(DAY_AFTER, "10:00")}
    )
    assert (status, err["error"]["code"]) == (409, "centre_not_bookable"), err
    assert err["error"]["details"] == {"centre_id": RENAMED[old_id], "kind": "kiosk"}
    status, cancelled = await desk.rider.post(f"/v1/appointments/{booked['id']}/cancellation", {})
    assert (status, cancelled["status"]) == (200, "cancelled"), cancelled


async def test_an_id_no_centre_took_over_is_still_not_found(desk: Desk, pg: Any) -> None:
    """The control: the answers above come from the kiosks' `replaces`, not from a fallback."""
    booked = await stored_at(desk, pg, "nowhere_centre")
    status, err = await desk.rider.get(f"/v1/appointments/{booked['id']}.ics")
    assert (status, err["error"]["code"]) == (404, "centre_not_found")


def test_a_replaced_id_may_not_also_be_a_centre(desk: Desk) -> None:
    catalogue = desk.services.appointments.catalogue
    kiosk = catalogue.centre("qianhai_hk_kiosk")
    assert kiosk.replaces == frozenset({"qianhai_hk_services"})
    hengqin = catalogue.centre("hengqin_gasc")
    agency = catalogue.agencies[hengqin.agency_id]
    twin = dataclasses.replace(hengqin, id="qianhai_hk_services")
    clashing = dataclasses.replace(agency, centres={**agency.centres, twin.id: twin})
    others = [a for a in catalogue.agencies.values() if a.id != agency.id]
    Catalogue([*others, agency])  # the control: as configured, no clash
    with pytest.raises(ValueError, match="qianhai_hk_services"):
        Catalogue([*others, clashing])
