"""A wallet that moves no money, so demos and tests can charge and refund end to end.

Idempotent: the provider reference is derived from the caller's reference, so repeating a
request gives the same answer. `decline_over` makes large charges fail on purpose. Charges are
remembered in the process (the latest `KEPT`) so that `lookup` can answer for them; after a
restart it knows none, like a wallet that lost nothing because it never moved money.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from functools import cached_property

from marshmallow import Schema, fields, validate

from bayaffairs.adapters.protocols import (
    ChargeRequest,
    PaymentOutcome,
    PaymentProvider,
    RefundRequest,
)
from bayaffairs.money import MINOR_UNITS, Money

PREFIX = "demo_"
KEPT = 10_000


class Settings(Schema):
    class Meta:
        unknown = "raise"

    currencies = fields.List(
        fields.String(validate=validate.OneOf(sorted(MINOR_UNITS))),
        load_default=lambda: ["CNY", "HKD", "MOP"],
        validate=validate.Length(min=1),
    )
    decline_over = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=0))


class DemoWallet(PaymentProvider):
    Settings = Settings

    @property
    def currencies(self) -> frozenset[str]:
        return frozenset(self.settings["currencies"])

    @cached_property
    def _charges(self) -> OrderedDict[str, PaymentOutcome]:
        return OrderedDict()

    async def charge(self, request: ChargeRequest) -> PaymentOutcome:
        known = self._charges.get(request.reference)
        if known is not None:
            return known
        limit = self.settings["decline_over"]
        failure = self._invalid(request.amount)
        if failure is None and limit is not None and request.amount.amount > limit:
            failure = "declined"
        outcome = self._outcome(request.reference, request.amount, failure)
        self._charges[request.reference] = outcome
        while len(self._charges) > KEPT:
            self._charges.popitem(last=False)
        return outcome

    async def lookup(self, reference: str) -> PaymentOutcome | None:
        return self._charges.get(reference)

    async def refund(self, request: RefundRequest) -> PaymentOutcome:
        failure = self._invalid(request.amount)
        if failure is None and not request.provider_charge_id.startswith(PREFIX):
            failure = "unknown_charge"
        return self._outcome(request.reference, request.amount, failure)

    def _invalid(self, amount: Money) -> str | None:
        if amount.currency not in self.currencies:
            return "currency_not_supported"
        if amount.amount < 0:
            return "invalid_amount"
        return None

    @staticmethod
    def _outcome(reference: str, amount: Money, failure: str | None) -> PaymentOutcome:
        provider_reference = PREFIX + hashlib.sha256(reference.encode()).hexdigest()[:24]
        return PaymentOutcome(failure is None, provider_reference, amount, failure)
