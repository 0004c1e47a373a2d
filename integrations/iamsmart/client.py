"""The iAM Smart API's request signing and envelope, apart from what the adapter makes of it.

Every call is a JSON POST with headers clientID, signatureMethod, timestamp (ms), nonce and
signature = base64(HMAC-SHA256(client_secret, clientID + signatureMethod + timestamp + nonce +
body)); every answer is `{"code", "message", "content"}` with code D00000 on success.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any

import aiohttp

from bayaffairs.clock import Clock
from bayaffairs.integrations.remote import CallError, call, json_object

SIGNATURE_METHOD = "HmacSHA256"
SUCCESS = "D00000"


@dataclass(frozen=True)
class Envelope:
    code: str
    message: str
    content: Any


def signature(secret: str, client_id: str, timestamp: str, nonce: str, body: bytes) -> str:
    message = (client_id + SIGNATURE_METHOD + timestamp + nonce).encode() + body
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


@dataclass(frozen=True)
class IAmSmartClient:
    http: aiohttp.ClientSession
    clock: Clock
    base_url: str
    client_id: str
    client_secret: str
    timeout_seconds: float

    async def call(self, path: str, payload: dict[str, Any]) -> Envelope:
        """POST a signed request; raise `CallError` unless the answer is a JSON envelope."""
        body = json.dumps(payload, separators=(",", ":")).encode()
        timestamp = str(int(self.clock.now().timestamp() * 1000))
        nonce = secrets.token_hex(16)
        headers = {
            "Content-Type": "application/json",
            "clientID": self.client_id,
            "signatureMethod": SIGNATURE_METHOD,
            "timestamp": timestamp,
            "nonce": nonce,
            "signature": signature(self.client_secret, self.client_id, timestamp, nonce, body),
        }
        url = self.base_url.rstrip("/") + path
        status, raw = await call(
            self.http, "POST", url, timeout_seconds=self.timeout_seconds, data=body, headers=headers
        )
        if status != 200:
            raise CallError(f"HTTP {status}")
        answer = json_object(raw)
        if not isinstance(answer.get("code"), str):
            raise CallError("answer is not an iAM Smart envelope")
        return Envelope(answer["code"], str(answer.get("message", "")), answer.get("content"))
