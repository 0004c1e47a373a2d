"""The demo wallet: charges and refunds that move no money, idempotent per reference."""

from __future__ import annotations

import pytest

from bayaffairs.adapters.protocols import ChargeRequest, RefundRequest
from bayaffairs.config.errors import ConfigError
from bayaffairs.money import Money
from tests.integrations.support import build_adapter


def charge(reference: str, amount: int, currency: str = "HKD") -> ChargeRequest:
    return ChargeRequest(reference, Money(amount, currency), account="usr_1")


def test_accepts_cny_hkd_and_mop_by_default() -> None:
    assert build_adapter("demo_payment").currencies == frozenset({"CNY", "HKD", "MOP"})


def test_currencies_come_from_settings() -> None:
    assert build_adapter("demo_payment", {"currencies": ["MOP"]}).currencies == {"MOP"}


def test_unknown_currency_in_settings_is_refused() -> None:
    with pytest.raises(ConfigError, match="currencies"):
        build_adapter("demo_payment", {"currencies": ["USD"]})


async def test_charge_succeeds_with_a_demo_reference() -> None:
    outcome = await build_adapter("demo_payment").charge(charge("jrn_1", 1250))
    assert outcome.succeeded and outcome.failure_code is None
    assert outcome.amount == Money(1250, "HKD")
    assert outcome.provider_reference.startswith("demo_")


async def test_repeating_a_reference_gives_the_same_provider_reference() -> None:
    wallet = build_adapter("demo_payment")
    first = await wallet.charge(charge("jrn_2", 500))
    again = await wallet.charge(charge("jrn_2", 500))
    other = await wallet.charge(charge("jrn_3", 500))
    assert first == again
    assert other.provider_reference != first.provider_reference


async def test_same_reference_gives_same_answer_across_instances() -> None:
    one, two = build_adapter("demo_payment"), build_adapter("demo_payment")
    assert (await one.charge(charge("jrn_4", 10))) == (await two.charge(charge("jrn_4", 10)))


async def test_charge_over_decline_over_is_declined() -> None:
    wallet = build_adapter("demo_payment", {"decline_over": 1000})
    assert (await wallet.charge(charge("jrn_5", 1000))).succeeded
    declined = await wallet.charge(charge("jrn_6", 1001))
    assert (declined.succeeded, declined.failure_code) == (False, "declined")


async def test_charge_in_a_currency_not_configured_fails() -> None:
    wallet = build_adapter("demo_payment", {"currencies": ["CNY"]})
    outcome = await wallet.charge(charge("jrn_7", 100, "MOP"))
    assert (outcome.succeeded, outcome.failure_code) == (False, "currency_not_supported")


async def test_negative_charge_fails() -> None:
    outcome = await build_adapter("demo_payment").charge(charge("jrn_8", -1))
    assert (outcome.succeeded, outcome.failure_code) == (False, "invalid_amount")


async def test_refund_of_a_demo_charge_succeeds_idempotently() -> None:
    wallet = build_adapter("demo_payment")
    charged = await wallet.charge(charge("bkg_1", 9000))
    refund = RefundRequest("rfd_1", "bkg_1", charged.provider_reference, Money(4500, "HKD"))
    first, again = await wallet.refund(refund), await wallet.refund(refund)
    assert first.succeeded and first == again
    assert first.provider_reference != charged.provider_reference


async def test_refund_of_a_charge_it_did_not_make_fails() -> None:
    refund = RefundRequest("rfd_2", "bkg_2", "alipay_123", Money(100, "HKD"))
    outcome = await build_adapter("demo_payment").refund(refund)
    assert (outcome.succeeded, outcome.failure_code) == (False, "unknown_charge")


async def test_lookup_answers_a_charge_it_made_by_its_reference_and_none_for_one_it_did_not() -> None:
    wallet = build_adapter("demo_payment", {"decline_over": 1000})
    assert await wallet.lookup("bkg_9:charge:0") is None
    charged = await wallet.charge(charge("bkg_9:charge:0", 700))
    declined = await wallet.charge(charge("bkg_9:charge:1", 7000))
    assert await wallet.lookup("bkg_9:charge:0") == charged
    assert await wallet.lookup("bkg_9:charge:1") == declined
    assert await wallet.charge(charge("bkg_9:charge:0", 700)) == charged  # and it charged once
