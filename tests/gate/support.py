"""A ride-code issuer of the test's own, for gate-library tests that need no server: its keys
document is what `GET /v1/gate/keys` answers, with the operator rules the test chooses."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bayaffairs.transit.codes import base45
from bayaffairs.transit.codes import format as fmt
from bayaffairs.transit.codes.signatures import sign

SCOPE = 4
T0 = int(datetime(2071, 3, 3, 8, 30, tzinfo=UTC).timestamp())  # a Tuesday morning (UTC), far ahead
METRO_RULES = {
    "operator": "test_metro",
    "tap_out": True,
    "max_journey_minutes": 150,
    "tap_out_without_tap_in": "max_fare",
    "max_stale_hours": 24,
    "stale_policy": "deny",
}


@dataclass
class Issuer:
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    key_number: int = 1

    def document(self, **rules: Any) -> dict[str, Any]:
        public = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "keys": [
                {
                    "kid": f"ride_codes-{self.key_number}",
                    "key_number": self.key_number,
                    "algorithm": "ES256",
                    "public_key": base64.b64encode(public).decode(),
                }
            ],
            "policy": {"code_seconds": 60, "skew_seconds": 300, "scope": SCOPE},
            "rules": {**METRO_RULES, **rules},
        }

    def code(self, account: bytes, at: int) -> str:
        body = fmt.issuer_code_body(self.key_number, at, 60, SCOPE, account, os.urandom(8))
        return base45.encode(body + sign(self.key, body))


def rider() -> bytes:
    return os.urandom(8)
