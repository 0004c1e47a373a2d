"""`bayaffairs gate simulate IMAGE`: read a QR image and validate it as a gate would.

Decodes the image with zxing-cpp, then either syncs keys and deny list from the service and
validates offline (the default), or asks the service online (`--online`). Prints one line of
JSON with the decision, so a person can try the whole gate path with a phone screenshot.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import zxingcpp
from PIL import Image

from bayaffairs.gate.client import GateClient
from bayaffairs.gate.offline import OfflineGate
from bayaffairs.gate.store import GateStore

QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)


class NoCode(Exception):
    pass


def read_qr(path: Path) -> str:
    with Image.open(path) as image:
        codes = zxingcpp.read_barcodes(image.convert("L"), formats=QR_ONLY)
    if not codes:
        raise NoCode(f"no QR code found in {path}")
    return codes[0].text


async def simulate(
    image: Path,
    *,
    base_url: str,
    token: str,
    gate_id: str,
    station: str,
    direction: str,
    online: bool,
    upload: bool,
    store: Path | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """Without `store` the gate's memory is a scratch file, gone afterwards. `at` is the gate's
    clock (default: now), for trying a code as of another time."""
    payload = read_qr(image)
    at = at or datetime.now(UTC)
    async with aiohttp.ClientSession() as session:
        if online:
            body = {
                "payload": payload,
                "gate_id": gate_id,
                "station": station,
                "direction": direction,
                "scanned_at": at.isoformat(),
            }
            async with session.post(
                f"{base_url.rstrip('/')}/v1/gate/scans",
                json=body,
                headers={"Authorization": f"Bearer {token}"},
            ) as resp:
                return {"mode": "online", "status": resp.status, **(await resp.json())}
        with tempfile.TemporaryDirectory(prefix="bayaffairs-gate-") as scratch:
            memory = GateStore(store or Path(scratch) / "gate.sqlite3")
            try:
                client = GateClient(session, base_url, token)
                gate = OfflineGate(gate_id=gate_id, station=station, store=memory)
                await client.sync(gate)
                decision = gate.validate(payload, direction, now=int(at.timestamp()))
                result: dict[str, Any] = {
                    "mode": "offline",
                    "decision": decision.decision,
                    "reason": decision.reason,
                }
                if upload and decision.decision == "open":
                    result["upload"] = await client.upload(gate)
                return result
            finally:
                memory.close()
