"""A pooled connection whose server session ended (a restart, pg_terminate_backend) answers 503,
never 500, whichever way asyncpg reports it.

When the server ends a session it sends a FATAL error, then closes the socket. A query started
between the two finds the connection still open but its protocol busy with the error: asyncpg
raises InternalClientError ("cannot switch to state ...; another operation (2) is in progress")
instead of ConnectionDoesNotExistError. Seen as 500s on gate scans in
test_restarts.py::test_postgres_restarted_under_scans_and_holds; here the same window is hit
with one pooled connection ended again and again.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

import asyncpg
import pytest
from aiohttp import web

from bayaffairs.handlers.keys import WIRING
from tests.faults.conftest import Servers

ATTEMPTS = 300


def pid_route() -> web.RouteTableDef:
    routes = web.RouteTableDef()

    @routes.get("/test/backend")
    async def backend(request: web.Request) -> web.Response:
        async with request.app[WIRING].db.acquire() as conn:
            return web.json_response({"pid": await conn.fetchval("SELECT pg_backend_pid()")})

    return routes


async def test_a_session_ended_by_the_server_is_503_not_500(
    make_fault_api: Any, servers: Servers, caplog: pytest.LogCaptureFixture
) -> None:
    api, config = await make_fault_api({"database": {"pool_min": 1, "pool_max": 1}}, routes=pid_route())
    admin = await asyncpg.connect(config.settings.database.url)
    statuses: Counter[int] = Counter()
    caplog.set_level(logging.WARNING)
    try:
        for _ in range(ATTEMPTS):
            status, body = await api.get("/test/backend")
            statuses[status] += 1
            if status == 200:
                await admin.execute("SELECT pg_terminate_backend($1)", body["pid"])
            else:
                assert status == 503, body
                assert body["error"]["code"] == "service_unavailable", body
            if "InternalClientError" in caplog.text:
                break
    finally:
        await admin.close()
    # The control: the window this test is about was hit (else it proves nothing).
    assert "InternalClientError" in caplog.text, statuses
    assert statuses[500] == 0, statuses
