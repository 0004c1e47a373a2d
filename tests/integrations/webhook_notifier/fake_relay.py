"""A push relay or webhook receiver (integrations/webhook_notifier/README.md) played by a real
aiohttp server on 127.0.0.1; it delivers each Idempotency-Key once.

    async with FakeRelay() as relay:                      # or: await relay.start() / stop()
        settings = {"url": relay.url + "notifications", "token": relay.token,
                    "timeout_seconds": 10.0}     # patient: not a test about timeouts
        relay.fail_next("send", 503)                      # and the other knobs of faults.py
        ...
        assert [d.body["subject"] for d in relay.deliveries] == ["Appointment reminder: ..."]

`deliveries` holds what was delivered (once per key), `calls["send"]` every request.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.integrations.faults import FaultyPartner


@dataclass(frozen=True)
class Delivery:
    message_id: str
    key: str
    body: dict[str, Any]


class FakeRelay(FaultyPartner):
    VERBS = ("send",)

    def __init__(self, *, token: str = "relay-test-token") -> None:
        super().__init__()
        self.token = token
        self.deliveries: list[Delivery] = []
        self._by_key: dict[str, Delivery] = {}

    def setup(self, app: web.Application) -> None:
        app.router.add_post("/notifications", self._send)

    async def _send(self, request: web.Request) -> web.Response:
        authorised = request.headers.get("Authorization") == f"Bearer {self.token}"
        key = request.headers.get("Idempotency-Key")
        try:
            body = await request.json()
        except ValueError:
            body = None

        def work() -> web.Response:
            if not authorised:
                return self.error(401, "unauthorized")
            if not key or not isinstance(body, dict) or body.get("id") != key:
                return self.error(400, "idempotency_key_missing")
            delivery = self._by_key.get(key)
            if delivery is None:
                delivery = Delivery("msg_" + secrets.token_hex(8), key, body)
                self._by_key[key] = delivery
                self.deliveries.append(delivery)
                self.made["send"] += 1
                return web.json_response({"message_id": delivery.message_id}, status=202)
            return web.json_response({"message_id": delivery.message_id})

        return await self.serve("send", work)
