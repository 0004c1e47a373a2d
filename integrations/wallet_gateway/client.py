"""The wallet gateway's API as we model it (integrations/wallet_gateway/README.md): request
signing, paths and bodies, apart from what the adapter makes of the answers.

Every request is signed: `X-Signature` is the hex HMAC-SHA256, under the merchant's secret, of
method, path, `X-Timestamp`, `X-Nonce` and the hex SHA-256 of the body, joined by newlines.
Charges and refunds carry our reference as `Idempotency-Key` and in the body; the gateway
answers a repeated reference with the first result, so a request that timed out can be retried
without charging twice.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from bayaffairs.clock import Clock
from bayaffairs.integrations.remote import CallError, call, json_object


class Refusal(Exception):
    """The gateway answered 404 or 422 with its error body: a definitive no."""

    def __init__(self, status: int, code: str) -> None:
        super().__init__(f"HTTP {status} {code}")
        self.status = status
        self.code = code


def signature(secret: str, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    digest = hashlib.sha256(body).hexdigest()
    message = "\n".join((method, path, timestamp, nonce, digest)).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class WalletGatewayClient:
    http: aiohttp.ClientSession
    clock: Clock
    base_url: str
    merchant_id: str
    secret: str
    timeout_seconds: float

    async def post(self, path: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """POST a signed request for `payload["reference"]`; the JSON object of a 200 or 201.
        Raises `Refusal` for the gateway's 404 and 422, `CallError` for anything else."""
        body = json.dumps(payload, separators=(",", ":")).encode()
        return await self._send("POST", path, body, {"Idempotency-Key": str(payload["reference"])})

    async def get(self, path: str) -> dict[str, Any]:
        """GET a signed request (the body signed is empty); answers as `post`."""
        return await self._send("GET", path, b"", {})

    async def _send(self, method: str, path: str, body: bytes, extra: Mapping[str, str]) -> dict[str, Any]:
        full_path = _path_of(self.base_url) + path
        timestamp = str(int(self.clock.now().timestamp()))
        nonce = secrets.token_hex(16)
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            **extra,
            "X-Merchant-Id": self.merchant_id,
            "X-Timestamp": timestamp,
            "X-Nonce": nonce,
            "X-Signature": signature(self.secret, method, full_path, timestamp, nonce, body),
        }
        url = self.base_url.rstrip("/") + path
        status, raw = await call(
            self.http, method, url, timeout_seconds=self.timeout_seconds, data=body or None, headers=headers
        )
        if status in (404, 422):
            code = _error_code(raw)
            if code is None:  # not the gateway's own answer (a wrong URL, a proxy)
                raise CallError(f"{method} {path}: HTTP {status} without an error body")
            raise Refusal(status, code)
        if status not in (200, 201):
            raise CallError(f"{method} {path}: HTTP {status} ({_error_code(raw) or 'no code'})")
        try:
            return json_object(raw)
        except CallError as exc:
            raise CallError(f"{method} {path}: {exc}") from None


def _path_of(base_url: str) -> str:
    """The path part of the base URL without its trailing slash ('' for a bare host)."""
    return urlsplit(base_url).path.rstrip("/")


def _error_code(raw: bytes) -> str | None:
    try:
        code = json.loads(raw)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None
    return code if isinstance(code, str) else None
