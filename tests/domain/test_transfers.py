"""Cross-border data transfers: whose data, which consent, what is recorded and shown."""

from __future__ import annotations

from datetime import datetime

import asyncpg
import pytest

from bayaffairs import transfers
from bayaffairs.config import Config
from bayaffairs.db.database import Database
from bayaffairs.transfers import ConsentRequired, DataTransfers, Recipient, Subject
from tests.support import START, Api, MovableClock

FERRY_HK = Recipient("demo_ferry", "Demo Ferry", "HK", ("holder_name", "document_number"))
AT = START


def subject(doc_type: str, issuing: str, masked: str = "X*****12", doc_id: str = "doc_1") -> Subject:
    return Subject(doc_id, doc_type, issuing, masked, "Chan Tai Man")


@pytest.mark.parametrize(
    ("doc_type", "issuing", "masked", "origin"),
    [
        ("exit_entry_permit", "CN", "C*****12", "CN"),
        ("mainland_id", "CN", "4****************X", "CN"),
        ("hkid", "HK", "A******(3)", "HK"),
        ("macao_id", "MO", "1******(8)", "MO"),
        ("home_return_permit", "CN", "H*******12", "HK"),  # a Hong Kong resident's permit
        ("home_return_permit", "CN", "M*******12", "MO"),  # a Macao resident's permit
        ("passport", "HK", "K*****12", "HK"),
        ("passport", "GB", "5*******12", "XX"),
    ],
)
def test_the_origin_of_data_follows_the_holders_document(
    doc_type: str, issuing: str, masked: str, origin: str
) -> None:
    assert transfers.origin_of(doc_type, issuing, masked) == origin


def test_legal_basis_names_the_regime_of_the_origin_and_the_gba_contract_between_cn_and_hk() -> None:
    assert transfers.legal_basis("CN", "HK") == "pipl_art39_separate_consent+gba_standard_contract"
    assert transfers.legal_basis("HK", "CN") == "pdpo_dpp3_prescribed_consent+gba_standard_contract"
    assert transfers.legal_basis("CN", "MO") == "pipl_art39_separate_consent"
    assert transfers.legal_basis("MO", "HK") == "mo_pdpa_art20_consent"


def test_only_declared_fields_that_we_have_are_sent() -> None:
    available = {"holder_name": "Chan", "document_number": "C12345678", "date_of_birth": "1990-01-01"}
    assert transfers.minimal_fields(available, ("holder_name", "document_number", "nationality")) == {
        "holder_name": "Chan",
        "document_number": "C12345678",
    }


async def rider_id(rider: Api) -> str:
    return (await rider.get("/v1/me"))[1]["id"]


async def test_mainland_data_to_hong_kong_needs_the_riders_consent_for_hk(
    api: Api, pg: asyncpg.Connection
) -> None:
    rider = await api.sign_in("xfer-consent")
    user = await rider_id(rider)
    with pytest.raises(ConsentRequired) as refused:
        await transfers.plan(pg, user, [subject("exit_entry_permit", "CN")], FERRY_HK, "travel_booking")
    assert refused.value.details["destination"] == "HK" and refused.value.status == 403

    # A consent for another destination or purpose is not this one.
    await rider.post("/v1/me/consents", {"destination": "MO", "purpose": "travel_booking"})
    await rider.post("/v1/me/consents", {"destination": "HK", "purpose": "appointment"})
    with pytest.raises(ConsentRequired):
        await transfers.plan(pg, user, [subject("exit_entry_permit", "CN")], FERRY_HK, "travel_booking")

    _, consent = await rider.post("/v1/me/consents", {"destination": "HK", "purpose": "travel_booking"})
    [planned] = await transfers.plan(
        pg, user, [subject("exit_entry_permit", "CN")], FERRY_HK, "travel_booking"
    )
    assert planned.consent_id == consent["id"]
    assert planned.legal_basis == "pipl_art39_separate_consent+gba_standard_contract"


async def test_a_withdrawn_consent_no_longer_allows_the_transfer(api: Api, pg: asyncpg.Connection) -> None:
    rider = await api.sign_in("xfer-withdrawn")
    user = await rider_id(rider)
    _, consent = await rider.post("/v1/me/consents", {"destination": "HK", "purpose": "travel_booking"})
    await rider.delete(f"/v1/me/consents/{consent['id']}")
    with pytest.raises(ConsentRequired):
        await transfers.plan(pg, user, [subject("mainland_id", "CN")], FERRY_HK, "travel_booking")


async def test_data_staying_in_its_region_is_no_transfer(api: Api, pg: asyncpg.Connection) -> None:
    user = await rider_id(await api.sign_in("xfer-local"))
    assert await transfers.plan(pg, user, [subject("hkid", "HK")], FERRY_HK, "travel_booking") == []


async def test_a_foreign_passport_goes_on_the_contract_without_consent(
    api: Api, pg: asyncpg.Connection
) -> None:
    user = await rider_id(await api.sign_in("xfer-foreign"))
    [planned] = await transfers.plan(pg, user, [subject("passport", "GB")], FERRY_HK, "travel_booking")
    assert planned.legal_basis == "contract_performance" and planned.consent_id is None


async def test_recorded_transfers_are_listed_newest_first_once_each_and_only_to_their_rider(
    api: Api, pg: asyncpg.Connection
) -> None:
    rider, other = await api.sign_in("xfer-list"), await api.sign_in("xfer-other")
    user = await rider_id(rider)
    await rider.post("/v1/me/consents", {"destination": "HK", "purpose": "travel_booking"})
    people = [
        subject("exit_entry_permit", "CN", doc_id="doc_a"),
        subject("mainland_id", "CN", doc_id="doc_b"),
    ]
    planned = await transfers.plan(pg, user, people, FERRY_HK, "travel_booking")

    assert await transfers.record(pg, user, planned, "bkg_1", AT) == 2
    assert await transfers.record(pg, user, planned, "bkg_1", AT) == 0  # a retried hand-over
    assert await transfers.record(pg, user, planned[:1], "bkg_2", AT) == 1

    status, page = await rider.get("/v1/me/data-transfers?limit=2")
    assert status == 200 and len(page["items"]) == 2 and page["next_cursor"]
    _, rest = await rider.get(f"/v1/me/data-transfers?limit=2&cursor={page['next_cursor']}")
    items = page["items"] + rest["items"]
    assert [i["reference"] for i in items] == ["bkg_2", "bkg_1", "bkg_1"]
    first = items[-1]
    assert first["fields"] == ["holder_name", "document_number"]
    assert first["destination"] == "HK" and first["origin"] == "CN" and first["recipient"] == "demo_ferry"
    assert first["retain_until"] > first["transferred_at"]
    assert datetime.fromisoformat(first["retain_until"]) - AT >= transfers.RETENTION

    assert (await other.get("/v1/me/data-transfers"))[1]["items"] == []
    assert (await api.get("/v1/me/data-transfers"))[0] == 401


async def test_records_are_purged_only_after_three_years(
    api: Api, pg: asyncpg.Connection, config: Config
) -> None:
    rider = await api.sign_in("xfer-purge")
    user = await rider_id(rider)
    planned = await transfers.plan(pg, user, [subject("passport", "GB")], FERRY_HK, "travel_booking")
    await transfers.record(pg, user, planned, "bkg_old", AT)
    db = Database(config.settings.database)
    await db.start()
    try:
        clock = MovableClock(AT.replace(year=AT.year + 3))
        purger = DataTransfers(db, clock)
        assert await purger.purge_expired() == 0  # three years to the day: kept
        clock.advance(days=3, seconds=1)  # past the end of 3 x 366 days
        assert await purger.purge_expired() == 1
    finally:
        await db.stop()
