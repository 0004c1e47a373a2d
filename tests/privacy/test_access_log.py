"""The access log: every read of a document number in clear is recorded, and the rider sees it."""

from __future__ import annotations

import pytest

from bayaffairs.privacy.access import Access
from tests.privacy.conftest import DOCUMENT, World
from tests.travel.conftest import HZMB, signed_in_with_wallet


async def test_a_carrier_reading_the_number_to_confirm_a_booking_is_in_the_riders_log(world: World) -> None:
    status, log = await world.rider.get("/v1/me/access-log")
    assert (status, log["items"]) == (200, [])
    paid = await world.paid_booking()
    status, log = await world.rider.get("/v1/me/access-log")
    assert status == 200, log
    [entry] = log["items"]
    assert entry["reader_kind"] == "carrier"
    assert entry["reader"] == HZMB
    assert entry["purpose"] == "carrier_confirmation"
    assert entry["reference"] == paid["id"]
    assert entry["holder_name"] == DOCUMENT["holder_name"]
    assert entry["number_masked"].startswith("A") and "123456" not in entry["number_masked"]


async def test_another_rider_sees_nothing_of_it(world: World) -> None:
    await world.paid_booking()
    other = await signed_in_with_wallet(world.api, "someone-else")
    status, log = await other.get("/v1/me/access-log")
    assert (status, log["items"]) == (200, [])


async def test_no_number_is_returned_without_its_record(world: World) -> None:
    """The record is written in the transaction that reads the number: when it cannot be
    written, the read fails too."""
    user_id = await world.user_id()
    status, doc = await world.rider.post("/v1/me/documents", DOCUMENT)
    assert status == 201
    documents = world.services.documents
    await world.pg.execute("ALTER TABLE personal_data_access ADD CONSTRAINT no_more CHECK (false) NOT VALID")
    try:
        with pytest.raises(Exception, match="no_more"):
            await documents.reveal_number(user_id, doc["id"], Access("carrier", HZMB, "boarding_check"))
    finally:
        await world.pg.execute("ALTER TABLE personal_data_access DROP CONSTRAINT no_more")
    assert await world.pg.fetchval("SELECT count(*) FROM personal_data_access") == 0
    assert await documents.reveal_number(user_id, doc["id"], Access("carrier", HZMB, "boarding_check")) == (
        "A123456(3)"
    )
    assert await world.pg.fetchval("SELECT count(*) FROM personal_data_access") == 1


def test_an_access_names_a_known_reader_and_purpose() -> None:
    with pytest.raises(ValueError, match="reader_kind"):
        Access("gate", "x", "export")
    with pytest.raises(ValueError, match="purpose"):
        Access("carrier", "x", "curiosity")
