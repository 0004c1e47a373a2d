"""The wallet gateway (integrations/wallet_gateway/README.md) played by a real aiohttp server on
127.0.0.1, with a ledger a test can inspect.

    async with FakeGateway(clock) as gateway:             # or: await gateway.start() / stop()
        settings = gateway.settings()       # the adapter's (a patient 10 s timeout), or in a config:
        {"adapters": {"wallet_gateway": {"enabled": True, **gateway.settings()}}}
        gateway.decline_next("insufficient_funds")        # or gateway.declined_customers.add(id)
        gateway.hold("charge")          # charges are made, answered only at gateway.release("charge"):
                                        # a client with settings(timeout_seconds=0.2) gives up first
        gateway.fail_next("charge", 503)                  # and the other knobs of faults.py
        ...
        assert gateway.charged_total("usr_1") == 0        # no money moved for this customer
        assert gateway.made["charge"] == 1                # one charge, however many retries

Every request's signature is recomputed from the raw body and headers; a bad one, a timestamp
more than five minutes off or a nonce seen before is refused with 401 and counted in
`bad_signatures`. Verbs are "charge" and "refund".
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections import deque
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bayaffairs.clock import Clock
from tests.integrations.faults import FaultyPartner
from tests.integrations.support import PATIENT_TIMEOUT

SKEW_SECONDS = 300


def expected_signature(secret: str, method: str, path: str, headers: Any, body: bytes) -> str:
    """The documented signature, written out again independently of the adapter."""
    text = f"{method}\n{path}\n{headers['X-Timestamp']}\n{headers['X-Nonce']}\n"
    text += hashlib.sha256(body).hexdigest()
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


@dataclass
class Entry:
    """One ledger line: a charge (succeeded or declined) or a refund."""

    kind: str
    id: str
    reference: str
    customer: str | None
    amount: int
    currency: str
    status: str
    charge_id: str | None = None
    decline_reason: str | None = None

    def as_answer(self) -> dict[str, Any]:
        answer: dict[str, Any] = {
            f"{self.kind}_id": self.id,
            "reference": self.reference,
            "status": self.status,
            "amount": self.amount,
            "currency": self.currency,
        }
        if self.charge_id:
            answer["charge_id"] = self.charge_id
        if self.decline_reason:
            answer["decline_reason"] = self.decline_reason
        return answer


class FakeGateway(FaultyPartner):
    VERBS = ("charge", "refund", "lookup")

    def __init__(
        self, clock: Clock, *, merchant_id: str = "m-test", secret: str = "wg-test-secret-0123456789"
    ) -> None:
        """`clock` is the test's clock: a request's timestamp is fresh by it, not by the wall clock."""
        super().__init__()
        self.clock = clock
        self.merchant_id = merchant_id
        self.secret = secret
        self.ledger: list[Entry] = []
        self.declined_customers: set[str] = set()
        self.bad_signatures = 0
        self.idempotency_keys: list[str | None] = []
        self._declines: deque[str] = deque()
        self._nonces: set[str] = set()
        self._by_reference: dict[tuple[str, str], tuple[Entry, dict[str, Any]]] = {}

    def settings(self, timeout_seconds: float = PATIENT_TIMEOUT) -> dict[str, Any]:
        """The wallet_gateway adapter's settings for this gateway (its API lives under /v1). The
        timeout is patient unless a test about timeouts passes a short one."""
        return {
            "base_url": self.url + "v1",
            "merchant_id": self.merchant_id,
            "secret": self.secret,
            "timeout_seconds": timeout_seconds,
        }

    def setup(self, app: web.Application) -> None:
        app.router.add_post("/v1/charges", self._charge)
        app.router.add_post("/v1/refunds", self._refund)
        app.router.add_get("/v1/charges/by-reference/{reference}", self._lookup)

    def decline_next(self, reason: str = "insufficient_funds") -> None:
        self._declines.append(reason)

    def charged_total(self, customer: str | None = None, currency: str | None = None) -> int:
        """Succeeded charges minus refunds, in minor units."""
        charges = {e.id: e for e in self.ledger if e.kind == "charge" and e.status == "succeeded"}
        total = 0
        for entry in self.ledger:
            charge = charges.get(entry.charge_id or entry.id)
            if charge is None or (customer and charge.customer != customer):
                continue
            if currency and charge.currency != currency:
                continue
            total += entry.amount if entry.kind == "charge" else -entry.amount
        return total

    async def _read(self, request: web.Request) -> dict[str, Any] | None:
        """The body if the request is signed by our merchant, else None."""
        raw = await request.read()
        headers = request.headers
        self.idempotency_keys.append(headers.get("Idempotency-Key"))
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        signed = self._check_signature(request, raw)
        if (
            not signed
            or not isinstance(body, dict)
            or body.get("reference") != headers.get("Idempotency-Key")
        ):
            if signed:
                self.bad_signatures += 1
            return None
        return body

    async def _signed(self, request: web.Request) -> bool:
        """Whether a request without a body (a GET) is signed by our merchant."""
        return self._check_signature(request, await request.read())

    def _check_signature(self, request: web.Request, raw: bytes) -> bool:
        """The signature over the raw path as sent; a good one uses up its nonce."""
        headers = request.headers
        try:
            fresh = abs(self.clock.now().timestamp() - int(headers["X-Timestamp"])) <= SKEW_SECONDS
            valid = (
                headers["X-Merchant-Id"] == self.merchant_id
                and fresh
                and headers["X-Nonce"] not in self._nonces
                and hmac.compare_digest(
                    headers["X-Signature"],
                    expected_signature(self.secret, request.method, request.raw_path, headers, raw),
                )
            )
        except (KeyError, ValueError):
            valid = False
        if not valid:
            self.bad_signatures += 1
            return False
        self._nonces.add(headers["X-Nonce"])
        return True

    def _replay(self, kind: str, body: dict[str, Any]) -> web.Response | None:
        known = self._by_reference.get((kind, str(body["reference"])))
        if known is None:
            return None
        entry, first = known
        if first != body:
            return self.error(409, "idempotency_key_reused")
        return web.json_response(entry.as_answer())

    def _record(self, entry: Entry, body: dict[str, Any]) -> web.Response:
        self.ledger.append(entry)
        self._by_reference[(entry.kind, entry.reference)] = (entry, body)
        self.made[entry.kind] += 1
        return web.json_response(entry.as_answer(), status=201)

    async def _charge(self, request: web.Request) -> web.Response:
        body = await self._read(request)

        def work() -> web.Response:
            if body is None:
                return self.error(401, "bad_signature")
            replay = self._replay("charge", body)
            if replay is not None:
                return replay
            amount, currency = body.get("amount"), body.get("currency")
            if not isinstance(amount, int) or amount <= 0:
                return self.error(422, "invalid_amount")
            if currency not in ("CNY", "HKD", "MOP"):
                return self.error(422, "currency_not_supported")
            customer = str(body.get("customer"))
            reason = self._declines.popleft() if self._declines else None
            if reason is None and customer in self.declined_customers:
                reason = "do_not_honour"
            status = "declined" if reason else "succeeded"
            entry = Entry(
                "charge", "ch_" + secrets.token_hex(8), body["reference"], customer, amount, currency, status
            )
            entry.decline_reason = reason
            return self._record(entry, body)

        return await self.serve("charge", work)

    async def _lookup(self, request: web.Request) -> web.Response:
        signed = await self._signed(request)
        reference = request.match_info["reference"]

        def work() -> web.Response:
            if not signed:
                return self.error(401, "bad_signature")
            known = self._by_reference.get(("charge", reference))
            if known is None:
                return self.error(404, "unknown_charge")
            return web.json_response(known[0].as_answer())

        return await self.serve("lookup", work)

    async def _refund(self, request: web.Request) -> web.Response:
        body = await self._read(request)

        def work() -> web.Response:
            if body is None:
                return self.error(401, "bad_signature")
            replay = self._replay("refund", body)
            if replay is not None:
                return replay
            charge = next(
                (e for e in self.ledger if e.kind == "charge" and e.id == body.get("charge_id")), None
            )
            if charge is None:
                return self.error(404, "unknown_charge")
            if charge.status != "succeeded":
                return self.error(422, "charge_not_refundable")
            amount = body.get("amount")
            if not isinstance(amount, int) or amount <= 0 or body.get("currency") != charge.currency:
                return self.error(422, "invalid_amount")
            refunded = sum(e.amount for e in self.ledger if e.kind == "refund" and e.charge_id == charge.id)
            if refunded + amount > charge.amount:
                return self.error(422, "refund_exceeds_charge")
            entry = Entry(
                "refund",
                "re_" + secrets.token_hex(8),
                body["reference"],
                charge.customer,
                amount,
                charge.currency,
                "succeeded",
                charge_id=charge.id,
            )
            return self._record(entry, body)

        return await self.serve("refund", work)
