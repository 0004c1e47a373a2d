"""The directory, the OpenAPI document and the offline documentation page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from aiohttp import web

from bayaffairs.handlers.endpoint import documented
from bayaffairs.handlers.keys import OPENAPI
from tests.conftest import AppFactory
from tests.support import Api, test_config

CONTRACT = Path(__file__).resolve().parents[3] / "shared" / "api-contract.md"


async def test_regions_lists_the_eleven_jurisdictions(api: Api) -> None:
    status, body = await api.get("/v1/regions")
    assert status == 200
    by_id = {j["id"]: j for j in body["items"]}
    assert len(by_id) == 11
    assert (by_id["hong_kong"]["currency"], by_id["hong_kong"]["time_zone"]) == ("HKD", "Asia/Hong_Kong")
    assert (by_id["macao"]["currency"], by_id["macao"]["region"]) == ("MOP", "MO")
    assert {j["currency"] for j in body["items"]} == {"CNY", "HKD", "MOP"}
    assert all(j["cities"] for j in body["items"])


async def test_region_names_follow_accept_language(api: Api) -> None:
    names = {}
    for language in ("en", "zh-Hant", "zh-Hans"):
        _, body = await api.get("/v1/regions", headers={"Accept-Language": language})
        names[language] = {j["id"]: j["name"] for j in body["items"]}["macao"]
    assert names == {
        "en": "Macao Special Administrative Region",
        "zh-Hant": "澳門特別行政區",
        "zh-Hans": "澳门特别行政区",
    }


async def test_regions_answer_304_to_a_matching_etag(api: Api) -> None:
    async with api.client.get("/v1/regions") as resp:
        etag = resp.headers["ETag"]
    async with api.client.get("/v1/regions", headers={"If-None-Match": etag}) as resp:
        assert resp.status == 304
    async with api.client.get(
        "/v1/regions", headers={"If-None-Match": etag, "Accept-Language": "zh-Hans"}
    ) as resp:
        assert resp.status == 200


async def test_openapi_documents_every_api_route(api: Api) -> None:
    status, spec = await api.get("/openapi.json")
    assert status == 200 and spec["openapi"].startswith("3.")
    app = api.client.server.app
    routes = {
        (r.method.lower(), r.resource.canonical)
        for r in app.router.routes()
        if r.resource is not None and r.resource.canonical.startswith("/v1/") and r.method != "HEAD"
    }
    documented = {(m, p) for p, ops in spec["paths"].items() for m in ops}
    assert routes <= documented
    assert not any(m == "head" for m, _ in documented)
    assert "Error" in spec["components"]["schemas"]


async def test_openapi_declares_the_error_shape_and_auth(api: Api) -> None:
    _, spec = await api.get("/openapi.json")
    op = spec["paths"]["/v1/me/documents"]["post"]
    assert {"201", "400", "401", "403", "413", "422", "429"} <= set(op["responses"])
    assert op["security"] == [{"bearer": []}]
    assert any(p["name"] == "Idempotency-Key" for p in op["parameters"])


# Every method and path of shared/api-contract.md (path parameters by position, not name).
CONTRACT_ROUTES = """
get /v1/regions
post /v1/auth/sessions
get /v1/me
put /v1/me/wallet
post /v1/me/documents
get /v1/me/documents
delete /v1/me/documents/{}
post /v1/me/consents
get /v1/me/consents
delete /v1/me/consents/{}
get /v1/me/data-transfers
post /v1/ride-codes
get /v1/ride-codes/{}.{}
post /v1/ride-credentials
get /v1/gate/keys
get /v1/gate/denylist
post /v1/gate/scans
post /v1/gate/taps:batch
get /v1/journeys
post /v1/journeys/{}/repair
get /v1/operators/{}/repairs
post /v1/operators/{}/repairs/{}
get /v1/me/debts
post /v1/me/debts/{}/payment
get /v1/operators/{}/settlements
get /v1/travel/routes
get /v1/travel/departures
post /v1/travel/bookings
get /v1/travel/bookings
get /v1/travel/bookings/{}
post /v1/travel/bookings/{}/payment
post /v1/travel/bookings/{}/cancellation
post /v1/travel/bookings/{}/passengers/{}/cancellation
post /v1/carrier/boardings
get /v1/carrier/departures/{}/manifest
post /v1/carrier/departures/{}/cancellation
get /v1/services
get /v1/centres
get /v1/centres/{}/slots
post /v1/appointments
get /v1/appointments
post /v1/appointments/{}/reschedule
post /v1/appointments/{}/cancellation
get /v1/appointments/{}.ics
get /v1/counter/appointments
post /v1/counter/appointments/{}/check-in
post /v1/counter/queue/next
post /v1/counter/appointments/{}/outcome
get /v1/counter/display
get /healthz
get /readyz
get /metrics
get /openapi.json
get /docs
get /app/
get /console/
get /console/display
"""


async def test_every_contract_path_is_in_the_openapi_document(api: Api) -> None:
    _, spec = await api.get("/openapi.json")
    served = {
        (method, re.sub(r"\{[^}]*\}", "{}", path))
        for path, operations in spec["paths"].items()
        for method in operations
    }
    missing = [line for line in CONTRACT_ROUTES.strip().splitlines() if tuple(line.split()) not in served]
    assert missing == []


async def test_docs_page_and_its_assets_are_served_locally(api: Api) -> None:
    status, page = await api.get("/docs")
    assert status == 200
    text = page.decode()
    assert "/docs/assets/docs.js" in text
    assert "http://" not in text and "https://" not in text
    status, start_up = await api.get("/docs/assets/docs.js")
    assert status == 200 and "/openapi.json" in start_up.decode()
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "swagger-ui-standalone-preset.js"):
        status, body = await api.get(f"/docs/assets/{asset}")
        assert status == 200 and len(body) > 1000, asset


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/docs/assets/no-such-file.js", 404, "not_found"),
        ("/docs/assets/", 404, "route_not_found"),
        ("/docs/assets/..%2Fdocs.html", 404, "not_found"),
        ("/docs/assets/index.html", 404, "not_found"),
    ],
)
async def test_missing_docs_assets_answer_the_error_shape_and_count_as_404(
    api: Api, path: str, status: int, code: str
) -> None:
    async with api.client.get(path) as resp:
        assert resp.status == status
        assert resp.content_type == "application/json"
        assert (await resp.json())["error"]["code"] == code
    _, text = await api.get("/metrics")
    lines = text.decode().splitlines()
    counted = [line for line in lines if line.startswith("bayaffairs_http_requests_total")]
    assert any('status="404"' in line for line in counted)
    assert not any("/docs/assets" in line and 'status="200"' in line for line in counted)


async def test_the_error_shape_in_openapi_names_request_id() -> None:
    from bayaffairs.handlers.schemas.common import ErrorBody

    assert ErrorBody().fields["request_id"].required


async def test_metrics_count_requests_per_route(api: Api) -> None:
    await api.get("/v1/regions")
    await api.get("/v1/regions")
    status, text = await api.get("/metrics")
    assert status == 200
    lines = text.decode().splitlines()
    assert 'bayaffairs_http_requests_total{method="GET",route="/v1/regions",status="200"} 2.0' in lines
    assert any(line.startswith("bayaffairs_http_request_duration_seconds_bucket") for line in lines)
    assert any(line.startswith("bayaffairs_db_pool_size") for line in lines)


async def test_apps_with_the_same_routes_share_one_openapi_document_and_other_routes_get_their_own(
    make_api: AppFactory,
) -> None:
    """Generating the document walks every route's schemas: a process that starts several apps
    (the tests) generates it once per set of routes and server URL (handlers/docs.py)."""
    first, second = await make_api(), await make_api()
    assert first.client.server.app[OPENAPI] is second.client.server.app[OPENAPI]

    extra = web.RouteTableDef()

    @extra.get("/v1/extra-for-this-test")
    @documented("A route only this test's app has")
    async def only_here(request: web.Request) -> web.Response:
        return web.Response()

    other = await make_api(routes=extra)
    _, spec = await other.get("/openapi.json")
    assert "/v1/extra-for-this-test" in spec["paths"]
    _, plain = await first.get("/openapi.json")
    assert "/v1/extra-for-this-test" not in plain["paths"]
    moved = test_config({"server": {"public_base_url": "https://elsewhere.example"}})
    _, elsewhere = await (await make_api(moved)).get("/openapi.json")
    assert {"url": "https://elsewhere.example"} in elsewhere["servers"]
    assert {"url": "https://elsewhere.example"} not in plain["servers"]
