"""A wallet and card gateway over HTTP: charges and refunds in CNY, HKD and MOP.

Idempotent per our reference: the gateway answers a repeated reference with the first result,
so a charge that timed out is retried with the same reference and never charges twice. A
declined charge is an answer (`succeeded=False`, `failure_code="declined"`); a gateway that is
down, slow, refuses our signature or answers garbage raises `PartnerError` and the caller
retries. Zero amounts never reach the gateway: they succeed at once, moving no money.
"""

from __future__ import annotations

import logging
from functools import cached_property
from typing import Any
from urllib.parse import quote

from marshmallow import Schema, fields, validate

from bayaffairs.adapters.protocols import ChargeRequest, PaymentOutcome, PaymentProvider, RefundRequest
from bayaffairs.integrations.remote import CallError, RemotePartner, timeout_field
from bayaffairs.integrations.wallet_gateway.client import Refusal, WalletGatewayClient
from bayaffairs.money import MINOR_UNITS, Money

log = logging.getLogger(__name__)

# The gateway's refusal codes passed on as failure codes; any other 422 becomes `rejected`.
REFUSAL_CODES = frozenset(
    {
        "invalid_amount",
        "currency_not_supported",
        "unknown_charge",
        "refund_exceeds_charge",
        "charge_not_refundable",
    }
)


class Settings(Schema):
    class Meta:
        unknown = "raise"

    base_url = fields.Url(required=True, require_tld=False)
    merchant_id = fields.String(required=True, validate=validate.Length(min=1))
    secret = fields.String(required=True, validate=validate.Length(min=16))
    timeout_seconds = timeout_field()
    currencies = fields.List(
        fields.String(validate=validate.OneOf(sorted(MINOR_UNITS))),
        load_default=lambda: ["CNY", "HKD", "MOP"],
        validate=validate.Length(min=1),
    )


class WalletGateway(RemotePartner, PaymentProvider):
    Settings = Settings

    @property
    def currencies(self) -> frozenset[str]:
        return frozenset(self.settings["currencies"])

    @cached_property
    def client(self) -> WalletGatewayClient:
        s = self.settings
        return WalletGatewayClient(
            self.http, self.context.clock, s["base_url"], s["merchant_id"], s["secret"], self.timeout_seconds
        )

    async def charge(self, request: ChargeRequest) -> PaymentOutcome:
        early = self._checked(request.amount)
        if early is not None:
            return early
        payload = {
            "reference": request.reference,
            "customer": request.account,
            "amount": request.amount.amount,
            "currency": request.amount.currency,
            "description": request.description,
        }
        answer = await self._post("/charges", payload, request.amount)
        if isinstance(answer, PaymentOutcome):
            return answer
        charge_id = self._answered(answer, request.reference, request.amount, "charge_id")
        if answer.get("status") == "succeeded":
            return PaymentOutcome(True, charge_id, request.amount)
        if answer.get("status") == "declined":
            log.info("%s: charge %s declined (%s)", self.id, request.reference, answer.get("decline_reason"))
            return PaymentOutcome(False, charge_id, request.amount, "declined")
        raise self.failure(f"charge {request.reference}: status {answer.get('status')!r}")

    async def lookup(self, reference: str) -> PaymentOutcome | None:
        """The charge made under `reference` (`GET /charges/by-reference/<reference>`), or None
        when the gateway has none (its 404 `unknown_charge`); never charges."""
        try:
            answer = await self.client.get(f"/charges/by-reference/{quote(reference, safe=':')}")
        except Refusal as refusal:
            if refusal.status == 404 and refusal.code == "unknown_charge":
                return None
            raise self.failure(f"lookup {reference}: refused ({refusal.code})") from refusal
        except CallError as exc:
            raise self.failure(str(exc)) from exc
        amount, currency = answer.get("amount"), answer.get("currency")
        charge_id = answer.get("charge_id")
        if (
            answer.get("reference") != reference
            or not isinstance(charge_id, str)
            or not charge_id
            or not isinstance(amount, int)
            or currency not in MINOR_UNITS
        ):
            raise self.failure(f"lookup {reference}: answer for another charge or without its id")
        money = Money(amount, str(currency))
        if answer.get("status") == "succeeded":
            return PaymentOutcome(True, charge_id, money)
        if answer.get("status") == "declined":
            return PaymentOutcome(False, charge_id, money, "declined")
        raise self.failure(f"lookup {reference}: status {answer.get('status')!r}")

    async def refund(self, request: RefundRequest) -> PaymentOutcome:
        early = self._checked(request.amount)
        if early is not None:
            return early
        payload = {
            "reference": request.reference,
            "charge_id": request.provider_charge_id,
            "amount": request.amount.amount,
            "currency": request.amount.currency,
        }
        answer = await self._post("/refunds", payload, request.amount)
        if isinstance(answer, PaymentOutcome):
            return answer
        refund_id = self._answered(answer, request.reference, request.amount, "refund_id")
        if answer.get("status") != "succeeded":
            raise self.failure(f"refund {request.reference}: status {answer.get('status')!r}")
        return PaymentOutcome(True, refund_id, request.amount)

    def _checked(self, amount: Money) -> PaymentOutcome | None:
        """An outcome decided without the gateway: a currency it does not take, a negative
        amount (refused), or zero (nothing to move)."""
        if amount.currency not in self.currencies:
            return PaymentOutcome(False, "", amount, "currency_not_supported")
        if amount.amount < 0:
            return PaymentOutcome(False, "", amount, "invalid_amount")
        if amount.amount == 0:
            return PaymentOutcome(True, "", amount)
        return None

    async def _post(
        self, path: str, payload: dict[str, Any], amount: Money
    ) -> dict[str, Any] | PaymentOutcome:
        try:
            return await self.client.post(path, payload)
        except Refusal as refusal:
            code = refusal.code if refusal.code in REFUSAL_CODES else "rejected"
            log.info("%s: %s %s refused (%s)", self.id, path, payload["reference"], refusal.code)
            return PaymentOutcome(False, "", amount, code)
        except CallError as exc:
            raise self.failure(str(exc)) from exc

    def _answered(self, answer: dict[str, Any], reference: str, amount: Money, id_key: str) -> str:
        """The gateway's id, once the answer is shown to be about this request."""
        provider_id = answer.get(id_key)
        same = (answer.get("reference"), answer.get("amount"), answer.get("currency")) == (
            reference,
            amount.amount,
            amount.currency,
        )
        if not same or not isinstance(provider_id, str) or not provider_id:
            raise self.failure(f"{reference}: answer for another request or without {id_key}")
        return provider_id
