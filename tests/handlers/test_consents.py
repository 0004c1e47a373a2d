"""Consents for cross-border transfers: give, list, withdraw."""

from __future__ import annotations

from tests.support import Api

CN_TRAVEL = {"destination": "CN", "purpose": "travel_booking"}


async def test_give_list_and_withdraw(api: Api) -> None:
    rider = await api.sign_in("consent")
    status, consent = await rider.post("/v1/me/consents", CN_TRAVEL)
    assert status == 201 and consent["status"] == "active"
    status, withdrawn = await rider.delete(f"/v1/me/consents/{consent['id']}")
    assert status == 200 and withdrawn["status"] == "withdrawn" and withdrawn["withdrawn_at"]
    _, listing = await rider.get("/v1/me/consents")
    assert [c["status"] for c in listing["items"]] == ["withdrawn"]


async def test_giving_the_same_consent_again_keeps_the_active_one(api: Api) -> None:
    rider = await api.sign_in("consent-again")
    _, first = await rider.post("/v1/me/consents", CN_TRAVEL)
    status, again = await rider.post("/v1/me/consents", CN_TRAVEL)
    assert status == 200 and again["id"] == first["id"]


async def test_consent_after_withdrawal_is_a_new_one(api: Api) -> None:
    rider = await api.sign_in("consent-renew")
    _, first = await rider.post("/v1/me/consents", CN_TRAVEL)
    await rider.delete(f"/v1/me/consents/{first['id']}")
    status, second = await rider.post("/v1/me/consents", CN_TRAVEL)
    assert status == 201 and second["id"] != first["id"]


async def test_each_destination_and_purpose_is_separate(api: Api) -> None:
    rider = await api.sign_in("consent-separate")
    for body in (
        CN_TRAVEL,
        {"destination": "HK", "purpose": "travel_booking"},
        {"destination": "CN", "purpose": "appointment"},
    ):
        assert (await rider.post("/v1/me/consents", body))[0] == 201


async def test_unknown_destination_or_purpose_is_400(api: Api) -> None:
    rider = await api.sign_in("consent-bad")
    status, body = await rider.post("/v1/me/consents", {"destination": "US", "purpose": "marketing"})
    assert status == 400
    assert set(body["error"]["details"]["fields"]) == {"destination", "purpose"}


async def test_another_riders_consent_cannot_be_withdrawn(api: Api) -> None:
    alice, bob = await api.sign_in("c-alice"), await api.sign_in("c-bob")
    _, consent = await alice.post("/v1/me/consents", CN_TRAVEL)
    assert (await bob.delete(f"/v1/me/consents/{consent['id']}"))[0] == 404
    assert (await alice.get("/v1/me/consents"))[1]["items"][0]["status"] == "active"
