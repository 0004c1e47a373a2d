"""A cap on the typed-document check at check-in: at the video counters the desk sees the masked
number (1*****7(8): about 10^5 candidates), so an answer of match or mismatch without a cap would
let a desk recover the full number in hours. After 3 mismatches the appointment's check locks
(409 document_check_locked, even for the right number); each mismatch is in the audit log."""

from __future__ import annotations

import asyncio
from typing import Any

from bayaffairs.appointments.desk import MAX_DOCUMENT_MISMATCHES
from bayaffairs.db.queries import appointments as q
from tests.appointments.conftest import BY_VIDEO, TOMORROW, Desk, at
from tests.appointments.test_quotas import book_with, document
from tests.security.test_audit import _admin, _audit

RIGHT = {"document_type": "macao_id", "document_number": "1234567(8)"}


def wrong(i: int) -> dict[str, str]:
    """A made-up number with the real one's mask, 1*****7(8)."""
    return {"document_type": "macao_id", "document_number": f"1{i:05d}7(8)"}


async def booked_at_the_video_desk(video: Desk) -> dict[str, Any]:
    rider = await video.another_rider("typed-at-the-video-desk")
    doc = await document(rider, RIGHT["document_number"])
    status, body = await book_with(video, rider, doc, BY_VIDEO, at(TOMORROW, "10:00"))
    assert status == 201, body
    video.clock.advance(days=1)
    return dict(body)


async def test_the_typed_check_locks_after_three_mismatches_and_each_is_audited(video: Desk) -> None:
    booking = await booked_at_the_video_desk(video)
    counter = await video.counter()
    by_reference = {"reference": booking["reference"]}
    for left in (2, 1, 0):
        status, err = await counter.post("/v1/counter/check-ins", {**by_reference, **wrong(left)})
        assert (status, err["error"]["code"]) == (409, "document_mismatch"), err
        assert err["error"]["details"] == {"attempts_left": left}
    # Locked: another guess, and the right number too, answer the same, so the lock tells nothing.
    for guess in (wrong(9), RIGHT):
        status, err = await counter.post("/v1/counter/check-ins", {**by_reference, **guess})
        assert (status, err["error"]["code"]) == (409, "document_check_locked"), err
        assert err["error"]["details"] == {"mismatches": MAX_DOCUMENT_MISMATCHES}
    path = f"/v1/counter/appointments/{booking['id']}/check-in"
    status, err = await counter.post(path, RIGHT)
    assert (status, err["error"]["code"]) == (409, "document_check_locked"), err
    # The desk still checks the person in, looking at the document without typing its number.
    status, checked = await counter.post("/v1/counter/check-ins", by_reference)
    assert (status, checked["status"], checked["queue_number"]) == (200, "checked_in", 1), checked

    admin, _ = await _admin(video.api)
    codes = [
        (e["action"], e["target"], e["status"], e["code"])
        for e in await _audit(admin)
        if e["target"] == booking["id"]
    ]
    mismatch = ("POST /v1/counter/check-ins", booking["id"], 409, "document_mismatch")
    locked = ("POST /v1/counter/check-ins", booking["id"], 409, "document_check_locked")
    by_id = ("POST /v1/counter/appointments/{appointment_id}/check-in", booking["id"], 409)
    assert codes == [
        mismatch,
        mismatch,
        mismatch,
        locked,
        locked,
        (*by_id, "document_check_locked"),
        ("POST /v1/counter/check-ins", booking["id"], 200, None),
    ]


async def test_the_count_is_kept_in_the_database(video: Desk, pg: Any) -> None:
    """A restarted worker (or another one) sees the same count: it is the appointment's row."""
    booking = await booked_at_the_video_desk(video)
    counter = await video.counter()
    by_reference = {"reference": booking["reference"]}
    assert (await counter.post("/v1/counter/check-ins", {**by_reference, **wrong(1)}))[0] == 409
    count = "SELECT document_mismatches FROM appointments WHERE id = $1"
    assert await pg.fetchval(count, booking["id"]) == 1
    await pg.execute("UPDATE appointments SET document_mismatches = 3 WHERE id = $1", booking["id"])
    status, err = await counter.post("/v1/counter/check-ins", {**by_reference, **RIGHT})
    assert (status, err["error"]["code"]) == (409, "document_check_locked")


async def test_a_match_before_the_cap_checks_in_and_counts_nothing_more(video: Desk, pg: Any) -> None:
    booking = await booked_at_the_video_desk(video)
    counter = await video.counter()
    by_reference = {"reference": booking["reference"]}
    for i in (1, 2):
        assert (await counter.post("/v1/counter/check-ins", {**by_reference, **wrong(i)}))[0] == 409
    status, checked = await counter.post("/v1/counter/check-ins", {**by_reference, **RIGHT})
    assert (status, checked["document"]) == (200, "match"), checked
    count = "SELECT document_mismatches FROM appointments WHERE id = $1"
    assert await pg.fetchval(count, booking["id"]) == 2


async def naive_count_mismatch(db: Any, appointment_id: str) -> bool:
    """Deliberately not atomic: read the count, then write it back plus one."""
    async with db.transaction() as conn:
        seen = await conn.fetchval("SELECT mismatches FROM naive_checks WHERE id = $1", appointment_id)
        await asyncio.sleep(0)
        if seen >= MAX_DOCUMENT_MISMATCHES:
            return False
        await conn.execute("UPDATE naive_checks SET mismatches = $2 WHERE id = $1", appointment_id, seen + 1)
        return True


async def test_concurrent_mismatches_never_pass_the_cap(video: Desk, pg: Any) -> None:
    booking = await booked_at_the_video_desk(video)
    db = video.services.appointments.desk.db
    attempts = 12

    # Negative control: reading the count and writing it back lets more than 3 through.
    await pg.execute("CREATE TABLE naive_checks (id text PRIMARY KEY, mismatches integer NOT NULL)")
    try:
        await pg.execute("INSERT INTO naive_checks VALUES ('apt', 0)")
        counted = await asyncio.gather(*(naive_count_mismatch(db, "apt") for _ in range(attempts)))
        assert sum(counted) > MAX_DOCUMENT_MISMATCHES, "the naive count should pass the cap; no race"
    finally:
        await pg.execute("DROP TABLE naive_checks")

    # The conditional UPDATE alone, outside any row lock, hands out exactly 1, 2, 3.
    async def count() -> int | None:
        async with db.transaction() as conn:
            return await q.count_document_mismatch(conn, booking["id"], MAX_DOCUMENT_MISMATCHES)

    counts = await asyncio.gather(*(count() for _ in range(attempts)))
    assert sorted(c for c in counts if c is not None) == [1, 2, 3]
    await pg.execute("UPDATE appointments SET document_mismatches = 0 WHERE id = $1", booking["id"])

    # And through the desk: 12 mismatches typed at once, exactly 3 answered as such.
    counter = await video.counter()
    by_reference = {"reference": booking["reference"]}
    answers = await asyncio.gather(
        *(counter.post("/v1/counter/check-ins", {**by_reference, **wrong(i)}) for i in range(attempts))
    )
    codes = sorted(body["error"]["code"] for _, body in answers)
    assert codes == ["document_check_locked"] * 9 + ["document_mismatch"] * 3
    stored = "SELECT document_mismatches FROM appointments WHERE id = $1"
    assert await pg.fetchval(stored, booking["id"]) == MAX_DOCUMENT_MISMATCHES


async def test_a_repeat_check_in_says_match_only_for_the_booked_number(video: Desk, pg: Any) -> None:
    """Checking in again answers the same number; with a typed number it must still compare it
    (and count a mismatch), never answer `document: match` for a number it did not look at."""
    booking = await booked_at_the_video_desk(video)
    counter = await video.counter()
    by_reference = {"reference": booking["reference"]}
    status, checked = await counter.post("/v1/counter/check-ins", by_reference)  # without a number
    assert (status, checked["queue_number"]) == (200, 1), checked
    assert "document" not in checked
    status, err = await counter.post("/v1/counter/check-ins", {**by_reference, **wrong(3)})
    assert (status, err["error"]["code"]) == (409, "document_mismatch"), err
    assert err["error"]["details"] == {"attempts_left": MAX_DOCUMENT_MISMATCHES - 1}
    count = "SELECT document_mismatches, status FROM appointments WHERE id = $1"
    assert tuple(await pg.fetchrow(count, booking["id"])) == (1, "checked_in")  # still checked in
    status, again = await counter.post("/v1/counter/check-ins", {**by_reference, **RIGHT})
    assert (status, again["queue_number"], again["document"]) == (200, 1, "match"), again
    # Another day, no number is compared for it any more: the person is not at the desk.
    video.clock.advance(days=1)
    status, err = await counter.post("/v1/counter/check-ins", {**by_reference, **wrong(4)})
    assert (status, err["error"]["code"]) == (409, "not_today"), err
    assert tuple(await pg.fetchrow(count, booking["id"])) == (1, "checked_in")
