"""Self-service kiosks are not desks (issue 11, item 12): Guangdong's "粤智助" machines in Cheung
Sha Wan (gba.md) are listed with their opening hours and services, and never booked."""

from __future__ import annotations

import pytest

from bayaffairs.errors import InvalidInput
from tests.appointments.conftest import TOMORROW, Desk

KIOSK = "cheung_sha_wan_gd_kiosk"
CERTIFICATE = "gd_social_insurance_certificate"


async def test_a_kiosk_is_listed_with_its_hours_and_services_but_not_bookable(desk: Desk) -> None:
    status, centres = await desk.api.get("/v1/centres")
    assert status == 200
    kiosk = next(c for c in centres["items"] if c["id"] == KIOSK)
    assert (kiosk["kind"], kiosk["bookable"], kiosk["counters"]) == ("kiosk", False, [])
    assert kiosk["opening_hours"]["mon"] == ["10:00-13:00", "14:00-18:00"]
    assert CERTIFICATE in kiosk["services"]
    hengqin = next(c for c in centres["items"] if c["id"] == "hengqin_gasc")
    assert (hengqin["kind"], hengqin["bookable"]) == ("service_centre", True)  # the control
    status, services = await desk.api.get("/v1/services")
    certificate = next(s for s in services["items"] if s["id"] == CERTIFICATE)
    assert (certificate["centres"], certificate["kiosks"]) == ([], [KIOSK])


async def test_a_kiosk_has_no_slots_and_takes_no_booking_walk_in_or_counter(desk: Desk) -> None:
    status, err = await desk.api.get(f"/v1/centres/{KIOSK}/slots?service={CERTIFICATE}&date={TOMORROW}")
    assert (status, err["error"]["code"]) == (400, "not_bookable")
    status, err = await desk.rider.post(
        "/v1/appointments",
        {"centre_id": KIOSK, "service_id": CERTIFICATE, "start": f"{TOMORROW.isoformat()}T10:00:00+08:00"},
    )
    assert (status, err["error"]["code"]) == (400, "not_bookable")
    with pytest.raises(InvalidInput):  # no desk to run a counter at
        await desk.services.credentials.issue("counter", KIOSK)
