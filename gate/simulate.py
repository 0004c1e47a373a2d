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
from PIL import Image, UnidentifiedImageError

from bayaffairs.gate.client import GateClient
from bayaffairs.gate.offline import OfflineGate
from bayaffairs.gate.store import GateStore

QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)


class SimulationError(Exception):
    """What stopped the simulation, said in one line for a person (no traceback)."""


class NoCode(SimulationError):
    pass


def read_qr(path: Path) -> str:
    try:
        with Image.open(path) as image:
            codes = zxingcpp.read_barcodes(image.convert("L"), formats=QR_ONLY)
    except FileNotFoundError:
        raise SimulationError(f"{path}: no such file") from None
    except UnidentifiedImageError:
        raise SimulationError(f"{path}: not an image the gate can read (a PNG or JPEG)") from None
    except OSError as exc:
        raise SimulationError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    if not codes:
        raise NoCode(f"no QR code found in {path}")
    return codes[0].text


def _refused(base_url: str, status: int, code: str | None = None) -> SimulationError:
    said = f" ({code})" if code else ""
    if status in (401, 403):
        return SimulationError(f"the service at {base_url} refused the gate token: {status}{said}")
    return SimulationError(f"the service at {base_url} answered {status}{said}")


async def _error_code(resp: aiohttp.ClientResponse) -> str | None:
    try:
        body = await resp.json()
    except (aiohttp.ContentTypeError, ValueError):
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return str(error.get("code")) if isinstance(error, dict) else None


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
    base_url = base_url.rstrip("/")
    try:
        return await _simulate(
            payload, base_url, token, gate_id, station, direction, online, upload, store, at
        )
    except aiohttp.ClientResponseError as exc:
        raise _refused(base_url, exc.status) from None
    except (TimeoutError, aiohttp.ClientError) as exc:
        why = str(exc) or type(exc).__name__
        raise SimulationError(f"cannot reach the service at {base_url} ({why})") from None


async def _simulate(
    payload: str,
    base_url: str,
    token: str,
    gate_id: str,
    station: str,
    direction: str,
    online: bool,
    upload: bool,
    store: Path | None,
    at: datetime,
) -> dict[str, Any]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        if online:
            body = {
                "payload": payload,
                "gate_id": gate_id,
                "station": station,
                "direction": direction,
                "scanned_at": at.isoformat(),
            }
            async with session.post(
                f"{base_url}/v1/gate/scans",
                json=body,
                headers={"Authorization": f"Bearer {token}"},
            ) as resp:
                if resp.status in (401, 403) or resp.status >= 500:
                    raise _refused(base_url, resp.status, await _error_code(resp))
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
