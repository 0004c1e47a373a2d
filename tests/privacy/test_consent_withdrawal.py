"""Withdrawing a consent stops future transfers and lists what was already sent there, with the
recipients' contacts, in the rider's language. The appointments are at Hengqin's video counters in
Macao, whose staff serve from Hengqin: the data goes there (at Hengqin it stays in Macao)."""

from __future__ import annotations

from datetime import timedelta

from tests.appointments.conftest import BY_VIDEO, VIDEO
from tests.privacy.conftest import NOW, World
from tests.travel.conftest import signed_in_with_wallet

AGENCY = "hengqin_remote_counters"
AGENCY_ZH = "橫琴政務服務(澳門遙距服務櫃檯)"


async def consent_id(world: World, destination: str, purpose: str) -> str:
    _, consents = await world.rider.get("/v1/me/consents")
    return next(
        c["id"]
        for c in consents["items"]
        if (c["destination"], c["purpose"], c["status"]) == (destination, purpose, "active")
    )


async def test_the_answer_lists_what_went_there_with_the_recipients_contact(world: World) -> None:
    booked = await world.appointment(centre=VIDEO)
    cid = await consent_id(world, "CN", "appointment")
    status, body = await world.rider.delete(f"/v1/me/consents/{cid}", headers={"Accept-Language": "zh-Hant"})
    assert status == 200, body
    assert body["status"] == "withdrawn"
    [sent] = body["already_sent"]
    assert sent["recipient"] == AGENCY
    assert sent["recipient_name"] == AGENCY_ZH
    assert sent["contact"]["email"] == "dpo@hengqin-remote-counters.example"
    assert sent["destination"] == "CN"
    assert sent["subjects"] == ["CHAN Tai Man"]
    assert sent["references"] == [booked["id"]]
    assert sent["purposes"] == ["appointment"]
    assert set(sent["fields"]) == {"holder_name", "number_masked"}
    assert sent["transfers"] == 1
    assert "內地" in body["notice"]


async def test_after_withdrawing_nothing_more_is_sent(world: World) -> None:
    await world.appointment(centre=VIDEO)
    cid = await consent_id(world, "CN", "appointment")
    await world.rider.delete(f"/v1/me/consents/{cid}")
    _, docs = await world.rider.get("/v1/me/documents")
    start = f"{(NOW + timedelta(days=2)).date().isoformat()}T11:00:00+08:00"
    status, body = await world.rider.post(
        "/v1/appointments",
        {"centre_id": VIDEO, "service_id": BY_VIDEO, "start": start, "document_id": docs["items"][0]["id"]},
    )
    assert (status, body["error"]["code"]) == (403, "consent_required")
    assert await world.pg.fetchval("SELECT count(*) FROM data_transfers") == 1


async def test_the_list_is_in_english_by_default_and_names_only_this_riders_data(world: World) -> None:
    other = await signed_in_with_wallet(world.api, "another-resident")
    await world.appointment(rider=other, centre=VIDEO)
    status, consent = await world.rider.post(
        "/v1/me/consents", {"destination": "CN", "purpose": "appointment"}
    )
    assert status == 201
    status, body = await world.rider.delete(f"/v1/me/consents/{consent['id']}")
    assert status == 200, body
    assert body["already_sent"] == []
    assert "the mainland" in body["notice"]


async def test_the_data_transfer_records_name_the_recipient_in_the_riders_language(world: World) -> None:
    await world.appointment(centre=VIDEO)
    status, page = await world.rider.get("/v1/me/data-transfers", headers={"Accept-Language": "zh-Hant"})
    assert status == 200, page
    [record] = page["items"]
    assert record["recipient"] == AGENCY
    assert record["recipient_name"] == AGENCY_ZH
    _, page = await world.rider.get("/v1/me/data-transfers", headers={"Accept-Language": "en"})
    assert page["items"][0]["recipient_name"] != AGENCY_ZH
