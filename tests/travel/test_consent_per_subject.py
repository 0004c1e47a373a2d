"""Consent per data subject (issue 10 item 14): a family member's document goes abroad on that
person's consent, recorded by the rider on their behalf for that document, never on the booking
account's own consent (nor on another family member's)."""

from __future__ import annotations

from tests.travel.conftest import PERMIT, Trip

TRAVEL_HK = {"destination": "HK", "purpose": "travel_booking"}


async def test_a_family_members_data_goes_abroad_on_their_consent_not_the_accounts(trip: Trip) -> None:
    departure = await trip.departure("xrl", "futian_wkl")
    own = await trip.document(PERMIT)
    mother = await trip.document(
        {**PERMIT, "number": "C22345678", "holder_name": "Li Mei", "holder": "other"}
    )
    father = await trip.document(
        {**PERMIT, "number": "C32345678", "holder_name": "Li Qiang", "holder": "other"}
    )
    status, docs = await trip.rider.get("/v1/me/documents")
    assert {d["id"]: d["holder"] for d in docs["items"]} == {own: "self", mother: "other", father: "other"}

    # The account's own consent covers the rider's own document only.
    status, mine = await trip.rider.post("/v1/me/consents", TRAVEL_HK)
    assert status == 201 and mine["document_id"] is None
    status, booking = await trip.hold(departure, [own], "second")
    assert status == 201, booking
    status, refused = await trip.hold(departure, [mother], "second")
    assert (status, refused["error"]["code"]) == (403, "consent_required")
    assert refused["error"]["details"]["document_id"] == mother
    assert refused["error"]["details"]["data_subject"] == "other"

    # Consent recorded on the mother's behalf, for her document: hers travels, the father's not.
    status, hers = await trip.rider.post("/v1/me/consents", {**TRAVEL_HK, "document_id": mother})
    assert status == 201 and hers["document_id"] == mother and hers["id"] != mine["id"]
    status, again = await trip.rider.post("/v1/me/consents", {**TRAVEL_HK, "document_id": mother})
    assert (status, again["id"]) == (200, hers["id"])
    status, refused = await trip.hold(departure, [mother, father], "second")
    assert (status, refused["error"]["details"]["document_id"]) == (403, father)
    status, held = await trip.hold(departure, [mother], "second")
    assert status == 201, held
    status, paid = await trip.rider.post(f"/v1/travel/bookings/{held['id']}/payment")
    assert (status, paid["status"]) == (200, "confirmed")
    consent_of = await trip.pg.fetchval(
        "SELECT consent_id FROM data_transfers WHERE subject = $1 AND reference = $2", mother, held["id"]
    )
    assert consent_of == hers["id"]

    # Another rider's document is no document to consent for; the mother's withdrawn stops hers.
    status, bad = await trip.rider.post("/v1/me/consents", {**TRAVEL_HK, "document_id": "doc_nope"})
    assert (status, bad["error"]["code"]) == (400, "invalid_request")
    status, _ = await trip.rider.delete(f"/v1/me/consents/{hers['id']}")
    assert status == 200
    later = await trip.departure("xrl", "futian_wkl", hours=6)
    status, refused = await trip.hold(later, [mother], "second")
    assert (status, refused["error"]["code"]) == (403, "consent_required")
    status, still = await trip.hold(later, [own], "second")
    assert status == 201, still
