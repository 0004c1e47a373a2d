"""Self-service kiosks are not desks (issue 11, item 12): Guangdong's "粤智助" machines in Cheung
Sha Wan, Hong Kong's cross-boundary kiosks (跨境通辦) in Guangzhou, Qianhai and Hetao and Macao's
"澳政易" kiosks in four Guangdong cities (gba.md section 4) are listed with their opening hours and
services, and never booked. The remote counter agency is Hengqin's remote video counters in Macao,
desks served by video from Hengqin."""

from __future__ import annotations

import pytest

from bayaffairs.errors import InvalidInput
from tests.appointments.conftest import TOMORROW, Desk, at

KIOSK = "cheung_sha_wan_gd_kiosk"
CERTIFICATE = "gd_social_insurance_certificate"
HK_KIOSKS = {"qianhai_hk_kiosk": "shenzhen", "hetao_hk_kiosk": "shenzhen", "guangzhou_hk_kiosk": "guangzhou"}
MO_KIOSKS = {
    "guangzhou_mo_kiosk": "guangzhou",
    "zhuhai_mo_kiosk": "zhuhai",
    "zhongshan_mo_kiosk": "zhongshan",
    "jiangmen_mo_kiosk": "jiangmen",
}
VIDEO = "macao_video_counters"
VIDEO_SERVICE = "hq_social_insurance"


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


async def test_the_hk_cross_boundary_and_macao_kiosks_are_walk_up_machines(desk: Desk) -> None:
    status, centres = await desk.api.get("/v1/centres")
    assert status == 200
    listed = {c["id"]: c for c in centres["items"]}
    for kiosk_id, city in {**HK_KIOSKS, **MO_KIOSKS}.items():
        kiosk = listed[kiosk_id]
        assert (kiosk["kind"], kiosk["bookable"], kiosk["counters"], kiosk["city"]) == (
            "kiosk",
            False,
            [],
            city,
        )
        assert kiosk["opening_hours"]["mon"] and kiosk["services"], kiosk_id
        service = kiosk["services"][0]
        status, err = await desk.api.get(f"/v1/centres/{kiosk_id}/slots?service={service}&date={TOMORROW}")
        assert (status, err["error"]["code"]) == (400, "not_bookable"), kiosk_id
        status, err = await desk.rider.post(
            "/v1/appointments", {"centre_id": kiosk_id, "service_id": service, "start": at(TOMORROW, "10:00")}
        )
        assert (status, err["error"]["code"]) == (400, "not_bookable"), kiosk_id
        assert kiosk_id not in desk.services.directory.scopes("counter")
    assert {listed[k]["agency"] for k in HK_KIOSKS} == {"hk_cross_boundary"}
    assert {listed[k]["agency"] for k in MO_KIOSKS} == {"macao_gov_kiosks"}
    status, services = await desk.api.get("/v1/services")
    tax = next(s for s in services["items"] if s["id"] == "hk_tax_enquiry")
    assert (tax["centres"], tax["kiosks"]) == ([], sorted(HK_KIOSKS))  # no desk anywhere


async def test_the_remote_video_counters_are_desks_in_macao_served_from_hengqin(desk: Desk) -> None:
    status, centres = await desk.api.get("/v1/centres")
    video = next(c for c in centres["items"] if c["id"] == VIDEO)
    assert (video["kind"], video["bookable"], video["region"], video["served_from"]) == (
        "service_centre",
        True,
        "MO",
        "CN",
    )
    assert VIDEO in desk.services.directory.scopes("counter")
    assert desk.services.appointments.catalogue.agencies["hengqin_remote_counters"].remote
    # The staff serving by video are in Hengqin: the desk being in Macao, a Macao rider's data
    # still crosses to the mainland, so it needs the rider's consent for CN...
    rider = await desk.another_rider("no-consent", consent=None)
    booking = {
        "centre_id": VIDEO,
        "service_id": VIDEO_SERVICE,
        "start": at(TOMORROW, "09:00"),
        "document_id": await desk.own_document(rider),
    }
    status, err = await rider.post("/v1/appointments", booking)
    assert (status, err["error"]["code"]) == (403, "consent_required"), err
    assert err["error"]["details"]["destination"] == "CN"
    # ... and with it the booking is made and the transfer to CN recorded.
    status, _ = await rider.post("/v1/me/consents", {"destination": "CN", "purpose": "appointment"})
    assert status == 201
    status, booked = await rider.post("/v1/appointments", booking)
    assert status == 201, booked
    status, sent = await rider.get("/v1/me/data-transfers")
    assert status == 200
    assert [(t["destination"], t["recipient"]) for t in sent["items"]] == [("CN", "hengqin_remote_counters")]
