"""Hengqin's booking system for its remote video counters, played by a local aiohttp server."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tests.integrations.support import FakePartner


class FakeAgency(FakePartner):
    def __init__(self) -> None:
        super().__init__()
        self.events: dict[str, dict[str, Any]] = {}  # by Idempotency-Key
        self.requests = 0
        self.fail_next = 0
        self.stalled = False
        self.refuse_next: list[tuple[str, str]] = []  # (code, message) for the next bookings
        self.unavailable_for: set[str] = set()  # events answered 503 while listed
        # (status, body, headers) answered to the next requests, before anything else
        self.answer_next: list[tuple[int, Any, dict[str, str]]] = []

    def setup(self, app: web.Application) -> None:
        app.router.add_post("/v1/bookings/events", self.event)

    async def event(self, request: web.Request) -> web.Response:
        self.requests += 1
        if self.stalled:
            await self.stall()
        if self.answer_next:
            status, answer, headers = self.answer_next.pop(0)
            if isinstance(answer, bytes):
                return web.Response(body=answer, status=status, headers=headers)
            return web.json_response(answer, status=status, headers=headers)
        if self.fail_next:
            self.fail_next -= 1
            return web.json_response({"code": "unavailable"}, status=503)
        if request.headers.get("Authorization") != "Bearer agency-key":
            return web.json_response({"code": "unauthorised"}, status=401)
        key = request.headers["Idempotency-Key"]
        body = await request.json()
        if body["event"] in self.unavailable_for:
            return web.json_response({"code": "unavailable"}, status=503)
        if body["event"] == "booked" and self.refuse_next and key not in self.events:
            code, message = self.refuse_next.pop(0)
            return web.json_response({"code": code, "message": message}, status=422)
        if key not in self.events:
            self.events[key] = body
        return web.json_response({"agency_reference": f"HQR-{len(self.events):04d}"}, status=201)
