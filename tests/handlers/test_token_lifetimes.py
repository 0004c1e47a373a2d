"""Tokens that an admin issues cannot outlive `[auth.token_ttl_days]` of their kind."""

from __future__ import annotations

from datetime import datetime, timedelta

from bayaffairs.config import Config
from bayaffairs.handlers.keys import SERVICES
from tests.support import Api, MovableClock


async def admin(api: Api) -> Api:
    return api.as_((await api.client.server.app[SERVICES].credentials.issue("admin", "all")).token)


async def test_the_admin_api_refuses_a_lifetime_beyond_the_kinds_limit(
    api: Api, config: Config, clock: MovableClock
) -> None:
    limit = config.settings.auth.token_ttl_days["counter"]
    staff = await admin(api)

    over = await staff.post(
        "/v1/admin/credentials", {"kind": "counter", "scope": "hengqin_gasc", "ttl_days": limit + 1}
    )
    at_limit = await staff.post(
        "/v1/admin/credentials", {"kind": "counter", "scope": "hengqin_gasc", "ttl_days": limit}
    )

    assert over[0] == 400, over
    assert over[1]["error"]["code"] == "invalid_request"
    assert "ttl_days" in over[1]["error"]["details"]["fields"]
    assert at_limit[0] == 201, at_limit
    expires = datetime.fromisoformat(at_limit[1]["expires_at"])
    assert expires == clock.now() + timedelta(days=limit)


async def test_a_default_lifetime_is_the_kinds_limit(api: Api, config: Config) -> None:
    services = api.client.server.app[SERVICES]
    for kind, scope in (("admin", "all"), ("counter", "hengqin_gasc"), ("gate", "shenzhen_metro")):
        issued = await services.credentials.issue(kind, scope)
        c = issued.credential
        assert c.expires_at - c.created_at == timedelta(days=config.settings.auth.token_ttl_days[kind])
