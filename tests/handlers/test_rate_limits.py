"""Rate limits per principal and route class, kept in Redis, answered with 429 and Retry-After."""

from __future__ import annotations

from tests.conftest import AppFactory
from tests.support import MovableClock, test_config

CONSENT = {"destination": "MO", "purpose": "appointment"}


async def test_the_request_over_the_limit_gets_429_with_retry_after(make_api: AppFactory) -> None:
    api = await make_api(test_config({"rate_limits": {"write": "3/60"}}))
    rider = await api.sign_in("limited")
    statuses = [
        (await rider.put("/v1/me/wallet", {"currency": "MOP", "provider": "demo"}))[0] for _ in range(3)
    ]
    assert statuses == [200, 200, 200]
    async with rider.client.put(
        "/v1/me/wallet",
        json={"currency": "MOP", "provider": "demo"},
        headers={"Authorization": f"Bearer {rider.token}"},
    ) as resp:
        assert resp.status == 429
        assert 1 <= int(resp.headers["Retry-After"]) <= 61
        assert (await resp.json())["error"]["code"] == "rate_limited"


async def test_limits_are_per_principal(make_api: AppFactory) -> None:
    api = await make_api(test_config({"rate_limits": {"write": "2/60"}}))
    alice, bob = await api.sign_in("rl-alice"), await api.sign_in("rl-bob")
    for _ in range(2):
        await alice.post("/v1/me/consents", CONSENT)
    assert (await alice.post("/v1/me/consents", CONSENT))[0] == 429
    assert (await bob.post("/v1/me/consents", CONSENT))[0] == 201


async def test_limits_are_per_route_class(make_api: AppFactory) -> None:
    api = await make_api(test_config({"rate_limits": {"write": "1/60", "read": "100/60"}}))
    rider = await api.sign_in("rl-classes")
    await rider.post("/v1/me/consents", CONSENT)
    assert (await rider.post("/v1/me/consents", CONSENT))[0] == 429
    assert (await rider.get("/v1/me/consents"))[0] == 200


async def test_sign_in_is_limited_per_client_address(make_api: AppFactory) -> None:
    api = await make_api(test_config({"rate_limits": {"auth": "2/60"}}))
    for handle in ("a1", "a2"):
        await api.sign_in(handle)
    status, body = await api.post("/v1/auth/sessions", {"provider": "dev", "code": "a3"})
    assert (status, body["error"]["code"]) == (429, "rate_limited")


async def test_a_class_set_to_zero_is_not_limited(make_api: AppFactory) -> None:
    results = {}
    for setting in ("5/60", "0/1"):
        api = await make_api(test_config({"rate_limits": {"read": setting}}))
        rider = await api.sign_in(f"unlimited-{setting[0]}")
        results[setting] = {(await rider.get("/v1/me"))[0] for _ in range(10)}
    assert results == {"5/60": {200, 429}, "0/1": {200}}


async def test_a_429_names_the_seconds_in_its_message_and_header(make_api: AppFactory) -> None:
    api = await make_api(test_config({"rate_limits": {"auth": "1/60"}}))
    await api.sign_in("once")
    for language, words in (("en", "retry after {n} second"), ("zh-Hant", "請於 {n} 秒後重試")):
        async with api.client.post(
            "/v1/auth/sessions",
            json={"provider": "dev", "code": "twice"},
            headers={"Accept-Language": language},
        ) as resp:
            assert resp.status == 429
            seconds = int(resp.headers["Retry-After"])
            error = (await resp.json())["error"]
        assert error["details"]["retry_after"] == seconds
        assert words.format(n=seconds) in error["message"]
        assert "{" not in error["message"]


async def test_windows_follow_the_service_clock_not_the_wall_clock(
    make_api: AppFactory, clock: MovableClock
) -> None:
    """A window is counted on the service's clock: a test (or a replayed day) sets the time it
    needs, so a limit never resets because the machine's own clock crossed a minute."""
    api = await make_api(test_config({"rate_limits": {"write": "2/60"}}))
    rider = await api.sign_in("rl-clock")
    clock.set(clock.now().replace(second=58, microsecond=0))
    statuses = [(await rider.post("/v1/me/consents", CONSENT))[0] for _ in range(3)]
    assert [status == 429 for status in statuses] == [False, False, True], statuses
    async with rider.client.post(
        "/v1/me/consents", json=CONSENT, headers={"Authorization": f"Bearer {rider.token}"}
    ) as resp:
        assert (resp.status, resp.headers["Retry-After"]) == (429, "2")  # 2 s to the window's end
    clock.advance(seconds=2)
    assert (await rider.post("/v1/me/consents", CONSENT))[0] == 200  # the consent already given
