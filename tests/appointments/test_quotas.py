"""Quotas per department and person: at most 2 appointments a day and 10 a week at Macao's
Hengqin services (shared/domain/gba.md section 4), the person identified by the document."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from tests.appointments.conftest import (
    COMMERCIAL,
    DAY_AFTER,
    HENGQIN,
    SOCIAL,
    TODAY,
    TOMORROW,
    Desk,
    at,
    riders,
)
from tests.appointments.test_times import set_service
from tests.support import FAR_AHEAD, Api

NOTARISATION = "mo_notarisation"
TRADEMARK = "mo_trademark_registration"
THIRD_DAY = TODAY + timedelta(days=3)  # a Saturday: Hengqin opens in the morning
MONDAY = TODAY - timedelta(days=TODAY.weekday())  # the centre's calendar week of today
MACAO_ID = {
    "type": "macao_id",
    "holder_name": "CHAN Tai Man",
    "number": "1234567(8)",
    "issuing": "MO",
    "expires": FAR_AHEAD,
}


async def document(
    rider: Api,
    number: str = MACAO_ID["number"],
    *,
    doc_type: str = "macao_id",
    issuing: str = "MO",
    holder: str = "self",
) -> str:
    body = {**MACAO_ID, "number": number, "type": doc_type, "issuing": issuing, "holder": holder}
    status, answer = await rider.post("/v1/me/documents", body)
    assert status == 201, answer
    return str(answer["id"])


async def book_with(desk: Desk, rider: Api, doc: str, service: str, start: str) -> tuple[int, Any]:
    return await desk.book(start, service, rider, document_id=doc)


async def test_macao_services_carry_the_remote_counters_quota(desk: Desk) -> None:
    _, body = await desk.api.get("/v1/services?jurisdiction=macao")
    bookable = [s for s in body["items"] if s["centres"]]  # kiosks' services are never booked
    assert len(bookable) == 10  # the Hengqin centre's 7, the video counters' 3
    assert {(s["quota"]["per_day"], s["quota"]["per_week"]) for s in bookable} == {(2, 10)}


async def test_a_person_books_at_most_two_a_day_with_a_department_from_any_account(desk: Desk) -> None:
    first = await desk.another_rider("first-account")
    doc = await document(first)
    assert (await book_with(desk, first, doc, COMMERCIAL, at(TOMORROW, "09:00")))[0] == 201
    assert (await book_with(desk, first, doc, NOTARISATION, at(TOMORROW, "10:00")))[0] == 201
    # The same person's document on another account counts as the same person.
    second = await desk.another_rider("second-account")
    same = await document(second)
    status, err = await book_with(desk, second, same, TRADEMARK, at(TOMORROW, "11:00"))
    assert (status, err["error"]["code"]) == (409, "quota_exceeded")
    assert err["error"]["details"] == {
        "limit": 2,
        "window": "day",
        "from": TOMORROW.isoformat(),
        "to": TOMORROW.isoformat(),
    }
    assert (await book_with(desk, second, same, TRADEMARK, at(DAY_AFTER, "11:00")))[0] == 201
    # Another person's document is another quota (a family member's: the rider's own second
    # document would be the rider again).
    other = await document(second, "7654321(0)", holder="other")
    consent = {"destination": "CN", "purpose": "appointment", "document_id": other}
    assert (await second.post("/v1/me/consents", consent))[0] == 201
    assert (await book_with(desk, second, other, TRADEMARK, at(TOMORROW, "11:00")))[0] == 201


async def test_a_service_with_a_quota_needs_a_document(desk: Desk) -> None:
    """Without a document the person is unknown: each account would be another person."""
    status, err = await desk.book(at(TOMORROW, "09:00"), COMMERCIAL, document_id=None)
    assert (status, err["error"]["code"]) == (400, "document_required")
    assert set(err["error"]["details"]["fields"]) == {"document_id"}


async def test_a_family_members_document_is_their_own_person_not_the_accounts(desk: Desk) -> None:
    """A rider books for themselves and for a family member (holder `other`): two persons, two
    quotas; the rider's own documents and the account are the rider."""
    rider = await desk.another_rider("one-account")
    own = await document(rider)
    family = await document(rider, "7654321(0)", holder="other")
    consent = {"destination": "CN", "purpose": "appointment", "document_id": family}
    assert (await rider.post("/v1/me/consents", consent))[0] == 201
    assert (await book_with(desk, rider, own, COMMERCIAL, at(TOMORROW, "09:00")))[0] == 201
    assert (await book_with(desk, rider, own, NOTARISATION, at(TOMORROW, "10:00")))[0] == 201
    assert (await book_with(desk, rider, family, TRADEMARK, at(TOMORROW, "11:00")))[0] == 201
    assert (await book_with(desk, rider, family, SOCIAL, at(TOMORROW, "14:00")))[0] == 201
    status, err = await book_with(desk, rider, own, TRADEMARK, at(TOMORROW, "14:00"))
    assert (status, err["error"]["code"]) == (409, "quota_exceeded")


async def test_one_persons_macao_id_and_home_return_permit_are_one_person(desk: Desk) -> None:
    rider = await desk.another_rider("two-documents")
    macao_id = await document(rider)
    permit = await document(rider, "M12345678", doc_type="home_return_permit", issuing="CN")
    assert (await book_with(desk, rider, macao_id, COMMERCIAL, at(TOMORROW, "09:00")))[0] == 201
    assert (await book_with(desk, rider, permit, NOTARISATION, at(TOMORROW, "10:00")))[0] == 201
    status, err = await book_with(desk, rider, permit, TRADEMARK, at(TOMORROW, "11:00"))
    assert (status, err["error"]["code"]) == (409, "quota_exceeded")
    # The permit on another account is the same person too: it is one of their own documents.
    other = await desk.another_rider("permit-elsewhere")
    same = await document(other, "M12345678", doc_type="home_return_permit", issuing="CN")
    status, err = await book_with(desk, other, same, TRADEMARK, at(TOMORROW, "11:00"))
    assert (status, err["error"]["code"]) == (409, "quota_exceeded")
    assert (await book_with(desk, other, same, TRADEMARK, at(DAY_AFTER, "11:00")))[0] == 201


async def test_the_week_is_the_centres_calendar_week(desk: Desk) -> None:
    for service in (COMMERCIAL, NOTARISATION, TRADEMARK):
        set_service(desk, service, quota_per_week=3)
    assert (await desk.book(at(TOMORROW, "09:00"), COMMERCIAL))[0] == 201
    assert (await desk.book(at(TOMORROW, "10:00"), NOTARISATION))[0] == 201
    assert (await desk.book(at(DAY_AFTER, "10:00"), TRADEMARK))[0] == 201
    status, err = await desk.book(at(THIRD_DAY, "10:00"), NOTARISATION)
    assert (status, err["error"]["code"]) == (409, "quota_exceeded")
    sunday = MONDAY + timedelta(days=6)
    assert err["error"]["details"] == {"limit": 3, "window": "week", "from": str(MONDAY), "to": str(sunday)}
    status, body = await desk.book(at(MONDAY + timedelta(days=7), "10:00"), NOTARISATION)  # next Monday
    assert status == 201, body


async def test_a_cancellation_gives_the_quota_back_and_a_reschedule_uses_none(desk: Desk) -> None:
    first = await desk.booked(at(TOMORROW, "09:00"), COMMERCIAL)
    await desk.booked(at(TOMORROW, "10:00"), NOTARISATION)
    status, moved = await desk.rider.post(
        f"/v1/appointments/{first['id']}/reschedule", {"start": at(TOMORROW, "14:00")}
    )
    assert status == 201, moved
    status, _ = await desk.rider.post(f"/v1/appointments/{moved['id']}/cancellation")
    assert status == 200
    assert (await desk.book(at(TOMORROW, "11:00"), TRADEMARK))[0] == 201


async def test_services_of_another_department_have_their_own_quota(desk: Desk) -> None:
    set_service(desk, SOCIAL, department="hengqin_social_security")
    assert (await desk.book(at(TOMORROW, "09:00"), COMMERCIAL))[0] == 201
    assert (await desk.book(at(TOMORROW, "10:00"), NOTARISATION))[0] == 201
    assert (await desk.book(at(TOMORROW, "11:00"), SOCIAL))[0] == 201


async def naive_quota_book(db: Any, i: int, person: str, when: datetime) -> bool:
    """Deliberately unlocked: count the person's bookings of the day, then insert."""
    async with db.transaction() as conn:
        held = await conn.fetchval(
            "SELECT count(*) FROM naive_appointments WHERE person_key = $1 AND local_date = $2",
            person,
            when.date(),
        )
        await asyncio.sleep(0)
        if held >= 2:
            return False
        await conn.execute(
            """INSERT INTO naive_appointments (id, reference, user_id, agency_id, centre_id, service_id,
                starts_at, ends_at, local_date, counter_id, status, holder_name, created_at, updated_at,
                change_seq, department, person_key)
            VALUES ($1, $1, 'u', 'a', $2, 's', $3, $3, $4, 'K', 'booked', 'x', now(), now(), 0, 'd', $5)""",
            f"naive-{i}",
            HENGQIN,
            when,
            when.date(),
            person,
        )
        return True


async def test_20_accounts_booking_for_one_document_at_once_get_two(unlimited: Desk, pg: Any) -> None:
    desk = unlimited
    accounts = await riders(desk, 20)
    docs = await asyncio.gather(*(document(a) for a in accounts))
    tomorrow = [s["start"] for s in await desk.slots(TOMORROW)]
    starts = [tomorrow[i % len(tomorrow)] for i in range(20)]

    # Negative control: counting then inserting without the person's lock lets more than two in.
    await pg.execute("CREATE TABLE naive_appointments (LIKE appointments INCLUDING DEFAULTS)")
    try:
        db = desk.services.appointments.booking.db
        when = datetime.fromisoformat(starts[0])
        results = await asyncio.gather(*(naive_quota_book(db, i, "doc:same", when) for i in range(20)))
        assert sum(results) > 2, "the unlocked path should exceed the quota; the race did not happen"
    finally:
        await pg.execute("DROP TABLE naive_appointments")

    answers = await asyncio.gather(
        *(book_with(desk, a, d, COMMERCIAL, s) for a, d, s in zip(accounts, docs, starts, strict=True))
    )
    assert sorted(status for status, _ in answers) == [201, 201] + [409] * 18
    assert {b["error"]["code"] for s, b in answers if s == 409} == {"quota_exceeded"}


async def test_a_home_return_permits_old_and_new_numbers_are_one_person(desk: Desk) -> None:
    """The older 11-character number is the 9-character one (the holder's lifelong number) plus
    a 2-digit count of issues: the person is the 9-character core."""
    new_card = await desk.another_rider("permit-card")
    old_booklet = await desk.another_rider("permit-booklet")
    card = await document(new_card, "M12345678", doc_type="home_return_permit", issuing="CN")
    booklet = await document(old_booklet, "M1234567801", doc_type="home_return_permit", issuing="CN")
    assert (await book_with(desk, new_card, card, COMMERCIAL, at(TOMORROW, "09:00")))[0] == 201
    assert (await book_with(desk, new_card, card, NOTARISATION, at(TOMORROW, "10:00")))[0] == 201
    status, err = await book_with(desk, old_booklet, booklet, TRADEMARK, at(TOMORROW, "11:00"))
    assert (status, err["error"]["code"]) == (409, "quota_exceeded")


async def test_the_desk_confirms_the_person_by_the_document_they_show(desk: Desk) -> None:
    """A made-up Macao ID with the real one's mask (the desk sees name and mask only) is caught
    when the desk types the number of the document shown: match or mismatch, never the number
    on file. Without a typed number, check-in is as it was."""
    rider = await desk.another_rider("shows-a-document")
    made_up = await document(rider, "1999997(8)")  # masked 1*****7(8), as the real 1234567(8)
    status, body = await book_with(desk, rider, made_up, COMMERCIAL, at(TOMORROW, "11:00"))
    assert status == 201, body
    desk.clock.advance(days=1)
    counter = await desk.counter()
    path = f"/v1/counter/appointments/{body['id']}/check-in"
    qr = {"payload": body["qr"]["payload"]}  # Hengqin's data stays home: the desk scans the QR
    real = {"document_type": "macao_id", "document_number": "1234567(8)"}
    status, err = await counter.post(path, {**qr, **real})
    assert (status, err["error"]["code"]) == (409, "document_mismatch")
    assert "1999997" not in str(err)
    status, err = await counter.post("/v1/counter/check-ins", {**qr, **real})
    assert (status, err["error"]["code"]) == (409, "document_mismatch")
    shown = {"document_type": "macao_id", "document_number": "1999997 8"}
    status, checked = await counter.post(path, {**qr, **shown})
    assert (status, checked["document"], checked["queue_number"]) == (200, "match", 1), checked
    status, plain = await counter.post("/v1/counter/check-ins", qr)
    assert (status, set(plain), plain["queue_number"]) == (
        200,
        {"appointment_id", "queue_number", "status"},
        1,
    )
    status, err = await counter.post(path, {**qr, "document_type": "macao_id"})
    assert status == 400, err


async def test_a_typed_document_is_compared_only_for_the_person_at_the_desk(desk: Desk) -> None:
    """The comparison answers only once everything else admits the check-in (the signed QR
    where the data stays home, an active booking of today): otherwise a desk could test
    guesses at who booked which reference, with nobody there."""
    rider = await desk.another_rider("no-oracle")
    booked_with = await document(rider, "1234567(8)")
    status, body = await book_with(desk, rider, booked_with, COMMERCIAL, at(TOMORROW, "11:00"))
    assert status == 201, body
    counter = await desk.counter()
    path = f"/v1/counter/appointments/{body['id']}/check-in"
    right = {"document_type": "macao_id", "document_number": "1234567(8)"}
    wrong = {"document_type": "macao_id", "document_number": "5234567(1)"}

    async def codes(url: str, extra: dict[str, str]) -> set[str]:
        answers = [await counter.post(url, {**extra, **guess}) for guess in (right, wrong)]
        return {err["error"]["code"] for _, err in answers}

    qr = {"payload": body["qr"]["payload"]}
    assert await codes(path, qr) == {"not_today"}  # tomorrow's: same answer for both guesses
    desk.clock.advance(days=1)
    assert await codes("/v1/counter/check-ins", {"reference": body["reference"]}) == {"qr_required"}
    assert await codes(path, {}) == {"qr_required"}
    assert (await rider.post(f"/v1/appointments/{body['id']}/cancellation", {}))[0] == 200
    assert await codes(path, qr) == {"appointment_not_active"}
