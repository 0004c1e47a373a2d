"""The gate library's online path (issue 15 item 6): each scan carries a tap id of its gate, kept
on disk, so a gate that lost the answer asks again and gets the first decision."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import asyncpg
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bayaffairs.gate.client import GateClient
from bayaffairs.gate.offline import OfflineGate
from bayaffairs.gate.store import GateStore
from tests.transit.conftest import Ride

BUS = "shenzhen_bus"


class LosingProxy:
    """Plays the network between gate and service: passes each request on, and drops the
    connection instead of the answer for the first `lose` of them (the service did decide)."""

    def __init__(self, target: str, session: aiohttp.ClientSession, lose: int) -> None:
        self.target, self.session, self.lose, self.seen = target.rstrip("/"), session, lose, 0
        self.app = web.Application()
        self.app.router.add_route("*", "/{tail:.*}", self.forward)

    async def forward(self, request: web.Request) -> web.StreamResponse:
        headers = {k: v for k, v in request.headers.items() if k.lower() in ("authorization", "content-type")}
        async with self.session.request(
            request.method, self.target + request.path_qs, data=await request.read(), headers=headers
        ) as resp:
            body = await resp.read()
            self.seen += 1
            if self.seen <= self.lose:
                assert request.transport is not None
                request.transport.close()  # the answer is lost on the way back
                return web.Response()
            return web.Response(status=resp.status, body=body, content_type=resp.content_type)


async def test_a_lost_answer_is_asked_again_and_opens_once(
    ride: Ride, pg: asyncpg.Connection, tmp_path: Path
) -> None:
    token = (await ride.services.credentials.issue("gate", BUS)).token
    client: TestClient = ride.api.client
    proxy = LosingProxy(str(client.make_url("")), client.session, lose=1)
    async with TestServer(proxy.app) as server, aiohttp.ClientSession() as session:
        gates = GateClient(session, str(server.make_url("")), token)
        gate = OfflineGate(
            gate_id="bus-3", station=ride.stops(BUS)[0], store=GateStore(tmp_path / "g.sqlite3")
        )
        now = int(ride.clock.now().timestamp())
        answer = await gates.scan(gate, (await ride.code("shenzhen"))["payload"], "in", now)
        assert answer["decision"] == "open" and answer["fare"]["amount"] > 0
        assert proxy.seen == 2  # the first answer was lost; the retry got the same decision
        assert await pg.fetchval("SELECT count(*) FROM journeys") == 1
        assert await pg.fetchval("SELECT tap_id FROM taps") == f"{BUS}|bus-3|bus-3:{gate.store.store_id}-o1"
        # Tap ids are on disk: a restarted gate never names a new scan like an old one.
        gate.store.close()
        gate = OfflineGate(
            gate_id="bus-3", station=ride.stops(BUS)[1], store=GateStore(tmp_path / "g.sqlite3")
        )
        assert gate.store.online_tap_id(gate.gate_id).endswith("-o2")
        # Control: a gate that gives up on a lost answer and scans the code anew (a new tap id,
        # as before tap ids) gets `replayed` for the tap the service did record.
        payload = (await ride.code("shenzhen"))["payload"]
        proxy.lose = proxy.seen + 1
        try:
            await gates.scan(gate, payload, "in", now, attempts=1)
            raise AssertionError("the answer was to be lost")
        except aiohttp.ClientConnectionError:
            pass
        replay = await gates.scan(gate, payload, "in", now)
        assert (replay["decision"], replay["reason"]) == ("deny", "replayed")
        assert await pg.fetchval("SELECT count(*) FROM journeys") == 2
