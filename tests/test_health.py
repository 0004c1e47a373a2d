"""Operations endpoints: liveness, readiness and metrics."""

from __future__ import annotations

from tests.support import Api


async def test_healthz_answers_ok(api: Api) -> None:
    status, body = await api.get("/healthz")
    assert (status, body) == (200, {"status": "ok"})


async def test_readyz_is_ready_when_postgres_and_redis_answer(api: Api) -> None:
    status, body = await api.get("/readyz")
    assert status == 200
    assert body["checks"] == {"postgres": "ok", "redis": "ok"}
