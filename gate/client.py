"""Syncing a gate with the service and uploading its taps."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson

from bayaffairs.gate.offline import OfflineGate
from bayaffairs.transit.uploads import MAX_BATCH_BYTES, MAX_BATCH_TAPS

UPLOAD_CHUNK = min(1000, MAX_BATCH_TAPS)


def next_chunk(queue: list[dict[str, Any]]) -> tuple[int, bytes]:
    """How many taps from the front of `queue` go in the next batch, and its body: at most
    UPLOAD_CHUNK taps and MAX_BATCH_BYTES (the server refuses larger: 400, 413)."""
    count = min(len(queue), UPLOAD_CHUNK)
    while True:
        body = orjson.dumps({"taps": queue[:count]})
        if len(body) <= MAX_BATCH_BYTES or count == 1:
            return count, body
        count = max(1, count * MAX_BATCH_BYTES // len(body) - 1)


class GateClient:
    def __init__(self, session: aiohttp.ClientSession, base_url: str, token: str) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}"}

    async def sync(self, gate: OfflineGate) -> None:
        """Keys (unless unchanged, by ETag) and every deny-list change since the gate's cursor."""
        headers = dict(self.headers)
        if gate.keys_etag:
            headers["If-None-Match"] = gate.keys_etag
        async with self.session.get(f"{self.base_url}/v1/gate/keys", headers=headers) as resp:
            if resp.status != 304:
                resp.raise_for_status()
                gate.apply_keys(await resp.json(), resp.headers.get("ETag"))
        while True:
            async with self.session.get(
                f"{self.base_url}/v1/gate/denylist", params={"since": gate.deny_cursor}, headers=self.headers
            ) as resp:
                resp.raise_for_status()
                delta = await resp.json()
            gate.apply_denylist(delta)
            if delta["complete"]:
                break
        if any(kind == "key" for kind, _ in gate.denied):
            async with self.session.get(f"{self.base_url}/v1/gate/keys", headers=self.headers) as resp:
                resp.raise_for_status()
                gate.apply_keys(await resp.json(), resp.headers.get("ETag"))

    async def upload(self, gate: OfflineGate) -> dict[str, int]:
        """Send queued taps; a tap leaves the queue once the service has it (or refused it for
        good). A lost answer is harmless: the same taps again are counted as duplicates."""
        totals = {"accepted": 0, "duplicates": 0, "rejected": 0}
        while gate.queue:
            count, body = next_chunk(gate.queue)
            headers = {**self.headers, "Content-Type": "application/json"}
            async with self.session.post(
                f"{self.base_url}/v1/gate/taps:batch", data=body, headers=headers
            ) as resp:
                resp.raise_for_status()
                result = await resp.json()
            totals["accepted"] += result["accepted"]
            totals["duplicates"] += result["duplicates"]
            totals["rejected"] += len(result["rejected"])
            del gate.queue[:count]
        return totals
