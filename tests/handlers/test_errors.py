"""Every failure answers the contract's one JSON error shape with a stable code; never a 500."""

from __future__ import annotations

from typing import Any

import asyncpg

from tests.conftest import AppFactory
from tests.support import FAR_AHEAD, Api, test_config

DOCUMENT = {
    "type": "hkid",
    "holder_name": "Chan Tai Man",
    "number": "A123456(3)",
    "issuing": "HK",
    "expires": FAR_AHEAD,
}


def assert_error(body: Any, code: str) -> None:
    assert set(body) == {"error"}
    error = body["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], dict)
    assert error["request_id"]


async def test_unknown_route_is_404_route_not_found(api: Api) -> None:
    status, body = await api.get("/v1/no-such-thing")
    assert status == 404
    assert_error(body, "route_not_found")


async def test_wrong_method_is_405_with_allow_header(api: Api) -> None:
    async with api.client.request("PATCH", "/v1/regions") as resp:
        assert resp.status == 405
        assert "GET" in resp.headers["Allow"]
        assert_error(await resp.json(), "method_not_allowed")


async def test_malformed_json_is_400_malformed_json(api: Api) -> None:
    rider = await api.sign_in("malformed")
    status, body = await rider.call(
        "POST", "/v1/me/documents", data=b'{"type": ', headers={"Content-Type": "application/json"}
    )
    assert status == 400
    assert_error(body, "malformed_json")


async def test_json_that_is_not_an_object_is_400(api: Api) -> None:
    rider = await api.sign_in("array-body")
    status, body = await rider.post("/v1/me/documents", [1, 2, 3])
    assert status == 400
    assert_error(body, "invalid_request")


async def test_invalid_fields_are_listed_per_field(api: Api) -> None:
    rider = await api.sign_in("bad-fields")
    status, body = await rider.post(
        "/v1/me/documents", {**DOCUMENT, "type": "library_card", "expires": "soon"}
    )
    assert status == 400
    assert_error(body, "invalid_request")
    assert set(body["error"]["details"]["fields"]) == {"type", "expires"}


async def test_field_messages_come_in_the_callers_language(api: Api) -> None:
    rider = await api.sign_in("field-language")
    body_ = {k: v for k, v in DOCUMENT.items() if k != "holder_name"} | {"colour": "red"}
    answers = {}
    for language in ("en", "zh-Hant", "zh-Hans"):
        status, body = await rider.call(
            "POST", "/v1/me/documents", json=body_, headers={"Accept-Language": language}
        )
        assert status == 400
        answers[language] = body["error"]["details"]["fields"]
    assert answers["en"] == {
        "holder_name": ["Missing data for required field."],
        "colour": ["Unknown field."],
    }
    assert answers["zh-Hant"] == {"holder_name": ["缺少必填欄位。"], "colour": ["未知欄位。"]}
    assert answers["zh-Hans"] == {"holder_name": ["缺少必填字段。"], "colour": ["未知字段。"]}


async def test_domain_field_messages_are_translated_too(api: Api) -> None:
    rider = await api.sign_in("domain-field-language")
    status, body = await rider.call(
        "POST", "/v1/ride-codes", json={"city": "atlantis"}, headers={"Accept-Language": "zh-Hant"}
    )
    assert status == 400
    assert body["error"]["details"]["fields"] == {"city": ["未知城市 'atlantis'"]}


async def test_unknown_body_field_is_rejected(api: Api) -> None:
    rider = await api.sign_in("extra-field")
    status, body = await rider.post("/v1/me/documents", {**DOCUMENT, "colour": "red"})
    assert status == 400
    assert "colour" in body["error"]["details"]["fields"]


async def test_bad_query_parameter_is_400(api: Api) -> None:
    rider = await api.sign_in("bad-query")
    status, body = await rider.get("/v1/me/documents?limit=0")
    assert status == 400
    assert "limit" in body["error"]["details"]["fields"]


async def test_body_over_the_limit_is_413(api: Api) -> None:
    rider = await api.sign_in("big-body")
    big = b'{"holder_name": "' + b"x" * (1024 * 1024) + b'"}'
    status, body = await rider.call(
        "POST", "/v1/me/documents", data=big, headers={"Content-Type": "application/json"}
    )
    assert status == 413
    assert_error(body, "payload_too_large")


async def test_body_limit_follows_config(make_api: AppFactory) -> None:
    api = await make_api(test_config({"server": {"max_body_bytes": 2048}}))
    rider = await api.sign_in("small-limit")
    status, body = await rider.post("/v1/me/documents", {**DOCUMENT, "holder_name": "y" * 3000})
    assert status == 413
    assert "2048" in body["error"]["message"]


async def test_missing_credentials_is_401(api: Api) -> None:
    status, body = await api.get("/v1/me")
    assert status == 401
    assert_error(body, "unauthenticated")


async def test_garbage_token_is_401(api: Api) -> None:
    for token in ("nonsense", "bya.crd_X.short", "bya.crd_unknown." + "a" * 43):
        status, body = await api.as_(token).get("/v1/me")
        assert status == 401, token
        assert_error(body, "unauthenticated")


async def test_unknown_document_is_404(api: Api) -> None:
    rider = await api.sign_in("no-doc")
    status, body = await rider.delete("/v1/me/documents/doc_missing")
    assert status == 404
    assert_error(body, "document_not_found")


async def test_messages_follow_accept_language_but_codes_do_not(api: Api) -> None:
    answers = {}
    for language in ("en", "zh-HK", "zh-CN"):
        status, body = await api.get("/v1/me", headers={"Accept-Language": language})
        assert status == 401
        answers[language] = body["error"]
    assert {a["code"] for a in answers.values()} == {"unauthenticated"}
    assert len({a["message"] for a in answers.values()}) == 3
    assert "登入" in answers["zh-HK"]["message"] and "登录" in answers["zh-CN"]["message"]


async def test_request_id_is_echoed_or_made(api: Api) -> None:
    async with api.client.get("/healthz", headers={"X-Request-Id": "gate-7-000123"}) as resp:
        assert resp.headers["X-Request-Id"] == "gate-7-000123"
    async with api.client.get("/healthz", headers={"X-Request-Id": "bad id with spaces"}) as resp:
        assert (
            resp.headers["X-Request-Id"] != "bad id with spaces" and len(resp.headers["X-Request-Id"]) == 16
        )


async def test_redis_down_is_503_and_nothing_is_written(make_api: AppFactory, pg: asyncpg.Connection) -> None:
    healthy = await make_api()
    token = (await healthy.sign_in("redis-down")).token
    broken = await make_api(test_config({"redis": {"url": "redis://127.0.0.1:1/0"}}))
    status, body = await broken.as_(token).post(
        "/v1/me/consents", {"destination": "CN", "purpose": "travel_booking"}
    )
    assert status == 503
    assert_error(body, "service_unavailable")
    assert await pg.fetchval("SELECT count(*) FROM consents") == 0
    status, body = await broken.get("/readyz")
    assert status == 503
    assert body["error"]["details"]["checks"]["redis"].startswith("down")


async def test_postgres_down_is_503(make_api: AppFactory) -> None:
    broken = await make_api(
        test_config({"database": {"url": "postgresql://postgres@127.0.0.1:1/none", "pool_min": 0}})
    )
    status, body = await broken.as_("bya.crd_x." + "a" * 43).get("/v1/me")
    assert status == 503
    assert_error(body, "service_unavailable")
    status, body = await broken.get("/readyz")
    assert status == 503
    assert body["error"]["details"]["checks"]["postgres"].startswith("down")
    assert body["error"]["details"]["checks"]["redis"] == "ok"
