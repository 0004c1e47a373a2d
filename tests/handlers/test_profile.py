"""Signing in, the profile and the wallet."""

from __future__ import annotations

from tests.support import Api


async def test_the_same_dev_handle_is_the_same_user(api: Api) -> None:
    first = await api.sign_in("same-person")
    second = await api.sign_in("same-person")
    other = await api.sign_in("someone-else")
    ids = [(await who.get("/v1/me"))[1]["id"] for who in (first, second, other)]
    assert ids[0] == ids[1] != ids[2]


async def test_category_comes_from_the_provider(api: Api) -> None:
    rider = await api.sign_in("grandma", category="elderly")
    status, me = await rider.get("/v1/me")
    assert status == 200
    assert me["category"] == "elderly"
    assert me["wallet"] is None


async def test_unknown_or_disabled_provider_is_400(api: Api) -> None:
    for provider in ("myspace", "alipay"):  # alipay is disabled in the shipped config
        status, body = await api.post("/v1/auth/sessions", {"provider": provider, "code": "x"})
        assert (status, body["error"]["code"]) == (400, "unknown_provider"), provider


async def test_a_refused_code_is_401_login_failed(api: Api) -> None:
    status, body = await api.post("/v1/auth/sessions", {"provider": "dev", "code": "not a handle!"})
    assert (status, body["error"]["code"]) == (401, "login_failed")


async def test_session_answer_has_token_expiry_and_user(api: Api) -> None:
    status, body = await api.post("/v1/auth/sessions", {"provider": "dev", "code": "shape"})
    assert status == 201
    assert set(body) == {"token", "expires_at", "user"}
    assert body["expires_at"].endswith("+00:00")
    assert body["user"]["category"] == "adult"


async def test_wallet_can_be_set_and_changed(api: Api) -> None:
    rider = await api.sign_in("wallet")
    status, me = await rider.put("/v1/me/wallet", {"currency": "CNY", "provider": "demo"})
    assert (status, me["wallet"]) == (200, {"currency": "CNY", "provider": "demo"})
    await rider.put("/v1/me/wallet", {"currency": "MOP", "provider": "demo"})
    assert (await rider.get("/v1/me"))[1]["wallet"] == {"currency": "MOP", "provider": "demo"}


async def test_wallet_refuses_unknown_provider_and_currency(api: Api) -> None:
    rider = await api.sign_in("wallet-bad")
    status, body = await rider.put("/v1/me/wallet", {"currency": "CNY", "provider": "demo_payment"})
    assert status == 400
    assert "GET /v1/auth/providers" in body["error"]["details"]["fields"]["provider"][0]  # where the ids are
    status, body = await rider.put("/v1/me/wallet", {"currency": "USD", "provider": "demo"})
    assert status == 400 and "currency" in body["error"]["details"]["fields"]


async def test_providers_lists_what_config_enables_for_sign_in_and_wallets(api: Api) -> None:
    """A client builds its sign-in and wallet screens from this, not from a hard-coded list."""
    status, body = await api.get("/v1/auth/providers", headers={"Accept-Language": "zh-Hant"})
    assert status == 200
    identity = {p["id"]: p for p in body["identity"]}
    assert "dev" in identity and "wechat" in identity
    assert "alipay" not in identity  # disabled in the shipped config
    assert identity["dev"] == {"id": "dev", "name": "開發者登入", "unverified": True}
    assert identity["wechat"]["unverified"] is False
    assert body["payment"] == [{"id": "demo", "name": "示範錢包", "currencies": ["CNY", "HKD", "MOP"]}]
