"""Syncing a gate with the service and uploading its taps."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import orjson

from bayaffairs.gate.offline import OfflineGate, unix_now
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

    async def sync(self, gate: OfflineGate, now: int | None = None) -> None:
        """Keys (unless unchanged, by ETag) and every deny-list change since the group's cursor;
        each step is stored (with the gate's time `now`) only once the service has answered it."""
        now = unix_now(now)
        headers = dict(self.headers)
        if gate.keys_etag:
            headers["If-None-Match"] = gate.keys_etag
        async with self.session.get(f"{self.base_url}/v1/gate/keys", headers=headers) as resp:
            if resp.status == 304:
                gate.keys_unchanged(now)
            else:
                resp.raise_for_status()
                gate.apply_keys(await resp.json(), resp.headers.get("ETag"), now)
        if gate.deny_cursor == 0:
            await self._snapshot(gate, now)
        while True:
            async with self.session.get(
                f"{self.base_url}/v1/gate/denylist", params={"since": gate.deny_cursor}, headers=self.headers
            ) as resp:
                resp.raise_for_status()
                delta = await resp.json()
            gate.apply_denylist(delta, now)
            if delta["complete"]:
                break

    async def _snapshot(self, gate: OfflineGate, now: int) -> None:
        """A gate that has nothing starts from the current entries, not the whole history."""
        entries: list[dict[str, Any]] = []
        params = {"snapshot": "true"}
        while True:
            async with self.session.get(
                f"{self.base_url}/v1/gate/denylist", params=params, headers=self.headers
            ) as resp:
                resp.raise_for_status()
                page = await resp.json()
            entries += page["entries"]
            if page["complete"]:
                break
            params = {"page": page["next_page"]}
        gate.apply_deny_snapshot(entries, page["next_cursor"], now)

    async def scan(
        self,
        gate: OfflineGate,
        payload: str,
        direction: str,
        now: int | None = None,
        *,
        tap_id: str | None = None,
        attempts: int = 3,
    ) -> dict[str, Any]:
        """Ask the service (`POST /v1/gate/scans`) while online. The tap gets an id of this gate
        (`tap_id`, else a new one from the store), so when an answer is lost (a dropped
        connection, a timeout, a 5xx) the same scan is sent again, up to `attempts` times, and
        gets the first decision again: never `replayed`, never a second journey."""
        body = {
            "payload": payload,
            "gate_id": gate.gate_id,
            "station": gate.station,
            "direction": direction,
            "scanned_at": gate.scanned_at(unix_now(now)),
            "tap_id": tap_id or gate.store.online_tap_id(gate.gate_id),
        }
        for attempt in range(1, attempts + 1):
            try:
                async with self.session.post(
                    f"{self.base_url}/v1/gate/scans", json=body, headers=self.headers
                ) as resp:
                    if resp.status < 500 or attempt == attempts:
                        resp.raise_for_status()
                        answer: dict[str, Any] = await resp.json()
                        return answer
            except (TimeoutError, aiohttp.ClientConnectionError):
                if attempt == attempts:
                    raise
            await asyncio.sleep(0.05 * attempt)
        raise AssertionError("unreachable")  # the last attempt returns or raises

    async def upload(self, gate: OfflineGate) -> dict[str, int]:
        """Send the gate's queued taps, oldest first; a tap leaves the queue once the service
        has it (or refused it for good). A lost answer is harmless: the same taps again are
        counted as duplicates."""
        totals = {"accepted": 0, "duplicates": 0, "rejected": 0}
        while queued := gate.store.pending(gate.gate_id, UPLOAD_CHUNK):
            count, body = next_chunk([tap for _, tap in queued])
            headers = {**self.headers, "Content-Type": "application/json"}
            async with self.session.post(
                f"{self.base_url}/v1/gate/taps:batch", data=body, headers=headers
            ) as resp:
                resp.raise_for_status()
                result = await resp.json()
            totals["accepted"] += result["accepted"]
            totals["duplicates"] += result["duplicates"]
            totals["rejected"] += len(result["rejected"])
            gate.store.uploaded(seq for seq, _ in queued[:count])
        return totals
