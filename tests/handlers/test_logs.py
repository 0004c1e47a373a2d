"""Structured JSON logs carrying the request id."""

from __future__ import annotations

import logging

import orjson
import pytest

from bayaffairs.handlers.logs import CURRENT_REQUEST_ID, JsonFormatter
from tests.conftest import AppFactory
from tests.support import test_config


def test_a_log_line_is_json_with_the_request_id() -> None:
    token = CURRENT_REQUEST_ID.set("req-123")
    try:
        record = logging.LogRecord("bayaffairs.x", logging.INFO, __file__, 1, "hello %s", ("world",), None)
        record.fields = {"status": 201}
        line = orjson.loads(JsonFormatter().format(record))
    finally:
        CURRENT_REQUEST_ID.reset(token)
    assert line["msg"] == "hello world"
    assert (line["request_id"], line["status"], line["level"]) == ("req-123", 201, "info")
    assert line["ts"].endswith("+00:00")


async def test_the_access_log_records_each_request_with_its_route_and_principal(
    make_api: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    api = await make_api(test_config({"logging": {"access_log": True}}))
    rider = await api.sign_in("logged")
    caplog.set_level(logging.INFO, logger="bayaffairs.access")
    async with rider.client.get(
        "/v1/me", headers={"Authorization": f"Bearer {rider.token}", "X-Request-Id": "trace-0001"}
    ):
        pass
    records = [r for r in caplog.records if r.name == "bayaffairs.access" and r.fields["path"] == "/v1/me"]
    assert len(records) == 1
    fields = records[0].fields
    assert (fields["route"], fields["status"], fields["method"]) == ("/v1/me", 200, "GET")
    assert fields["principal"].startswith("rider:usr_")
    assert fields["ms"] >= 0
