"""The audit log: what admins and counters change (who, what, target, when, request id), read by
admins at GET /v1/admin/audit?since=, append-only in the database itself."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import asyncpg
import pytest

from bayaffairs.handlers.keys import SERVICES
from tests.appointments.conftest import Desk
from tests.appointments.test_counter import booked_for_today
from tests.conftest import AppFactory
from tests.support import Api, MovableClock


async def _admin(api: Api) -> tuple[Api, str]:
    issued = await api.client.server.app[SERVICES].credentials.issue("admin", "all")
    return api.as_(issued.token), f"admin:{issued.credential.id}"


async def _audit(admin: Api, query: str = "") -> list[dict[str, Any]]:
    status, body = await admin.get(f"/v1/admin/audit{query}")
    assert status == 200, body
    return list(body["items"])


async def test_an_admin_action_is_recorded_with_who_what_target_when_and_request_id(
    make_api: AppFactory, clock: MovableClock
) -> None:
    api = await make_api()
    admin, actor = await _admin(api)
    status, issued = await admin.post(
        "/v1/admin/credentials", {"kind": "gate", "scope": "mtr"}, headers={"X-Request-Id": "audit-req-0001"}
    )
    assert status == 201
    clock.advance(minutes=5)
    status, _ = await admin.delete(f"/v1/admin/credentials/{issued['id']}")
    assert status == 200
    status, _ = await admin.delete("/v1/admin/credentials/crd_nobody")  # refused: recorded too
    assert status == 404
    entries = await _audit(admin)
    shown = [(e["actor"], e["action"], e["target"], e["status"]) for e in entries]
    assert shown == [
        (actor, "POST /v1/admin/credentials", issued["id"], 201),
        (actor, "DELETE /v1/admin/credentials/{credential_id}", issued["id"], 200),
        (actor, "DELETE /v1/admin/credentials/{credential_id}", "crd_nobody", 404),
    ]
    assert entries[0]["request_id"] == "audit-req-0001"
    assert datetime.fromisoformat(entries[0]["at"]) == clock.now() - timedelta(minutes=5)
    assert datetime.fromisoformat(entries[1]["at"]) == clock.now()
    assert entries[0]["actor_kind"] == "admin" and entries[0]["scope"] == "all"


async def test_reads_are_not_recorded(make_api: AppFactory) -> None:
    admin, _ = await _admin(await make_api())
    assert (await admin.get("/v1/admin/credentials"))[0] == 200
    assert await _audit(admin) == []


async def test_counter_actions_are_recorded_with_the_appointment_as_target(desk: Desk) -> None:
    [body] = await booked_for_today(desk)
    counter = await desk.counter()
    actor = f"counter:{counter.token.split('.')[1]}"  # type: ignore[union-attr]
    assert (await counter.post("/v1/counter/check-ins", {"payload": body["qr"]["payload"]}))[0] == 200
    status, called = await counter.post("/v1/counter/queue/next", {"counter": "A3"})
    assert status == 200 and called["appointment"]["id"] == body["id"]
    assert (await counter.get("/v1/counter/appointments"))[0] == 200  # a read: not recorded
    admin, _ = await _admin(desk.api)
    entries = await _audit(admin)
    assert [(e["actor"], e["scope"], e["action"], e["target"]) for e in entries] == [
        (actor, "hengqin_gasc", "POST /v1/counter/check-ins", body["id"]),
        (actor, "hengqin_gasc", "POST /v1/counter/queue/next", body["id"]),
    ]


async def test_since_and_the_cursor_page_through_the_log(make_api: AppFactory, clock: MovableClock) -> None:
    admin, _ = await _admin(await make_api())
    marks = []
    for n in range(5):
        marks.append(clock.now())
        assert (
            await admin.post("/v1/admin/credentials", {"kind": "gate", "scope": "mtr", "label": f"g{n}"})
        )[0] == 201
        clock.advance(minutes=1)
    since = quote(marks[2].isoformat())
    status, first = await admin.get(f"/v1/admin/audit?since={since}&limit=2")
    assert status == 200 and len(first["items"]) == 2 and first["next_cursor"]
    status, rest = await admin.get(f"/v1/admin/audit?since={since}&limit=2&cursor={first['next_cursor']}")
    assert [datetime.fromisoformat(e["at"]) for e in first["items"] + rest["items"]] == marks[2:]
    assert rest["next_cursor"] is None
    status, err = await admin.get("/v1/admin/audit?since=yesterday")
    assert (status, err["error"]["code"]) == (400, "invalid_request")


async def test_only_an_admin_reads_the_audit_log(desk: Desk) -> None:
    services = desk.services
    tokens = {
        "rider": desk.rider.token,
        "gate": (await services.credentials.issue("gate", "mtr")).token,
        "counter": (await services.credentials.issue("counter", "hengqin_gasc")).token,
        "display": (await services.credentials.issue("display", "hengqin_gasc")).token,
        "operator": (await services.credentials.issue("operator", "mtr")).token,
    }
    for kind, token in tokens.items():
        status, err = await desk.api.as_(token).get("/v1/admin/audit")
        assert (status, err["error"]["code"]) == (403, "wrong_credential_kind"), kind
    assert (await desk.api.as_(None).get("/v1/admin/audit"))[0] == 401


async def test_the_audit_table_refuses_update_delete_and_truncate(
    make_api: AppFactory, pg: asyncpg.Connection
) -> None:
    admin, _ = await _admin(await make_api())
    assert (await admin.post("/v1/admin/credentials", {"kind": "gate", "scope": "mtr"}))[0] == 201
    assert await pg.fetchval("SELECT count(*) FROM audit_log") == 1  # inserting is what it allows
    for statement in (
        "UPDATE audit_log SET actor = 'someone-else'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ):
        with pytest.raises(asyncpg.PostgresError, match="append-only"):
            await pg.execute(statement)
    assert await pg.fetchval("SELECT actor FROM audit_log") != "someone-else"
    assert await pg.fetchval("SELECT count(*) FROM audit_log") == 1


async def test_a_cursor_from_elsewhere_is_a_400_in_the_callers_language(make_api: AppFactory) -> None:
    admin, _ = await _admin(await make_api())
    status, err = await admin.get("/v1/admin/audit?cursor=abc", headers={"Accept-Language": "zh-Hant"})
    assert status == 400 and err["error"]["details"]["fields"]["cursor"] == ["不是此清單的游標"]
