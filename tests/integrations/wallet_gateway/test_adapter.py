"""The wallet gateway adapter against a local fake gateway that checks every signature and
keeps a ledger."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from bayaffairs.adapters.protocols import ChargeRequest, RefundRequest
from bayaffairs.config import load_config
from bayaffairs.errors import PartnerError
from bayaffairs.money import Money
from tests.integrations.support import (
    PATIENT_TIMEOUT,
    SHORT_TIMEOUT,
    build_adapter,
    gives_up_in_time,
    unused_url,
)
from tests.integrations.wallet_gateway.fake_gateway import FakeGateway, expected_signature
from tests.support import MovableClock

FARE = Money(17500, "MOP")


@pytest.fixture
async def gateway(clock: MovableClock) -> AsyncIterator[FakeGateway]:
    async with FakeGateway(clock) as fake:
        yield fake


def make(
    http: aiohttp.ClientSession, gateway: FakeGateway, clock: MovableClock | None = None, **overrides: Any
) -> Any:
    """The adapter on the gateway's clock unless told otherwise."""
    settings = gateway.settings()
    return build_adapter(
        "wallet_gateway", settings | overrides, http=http, clock=clock or gateway.clock, instance="wallet"
    )


def charge(reference: str = "bkg_1", amount: Money = FARE, account: str = "usr_1") -> ChargeRequest:
    return ChargeRequest(reference, amount, account, "TurboJET Sheung Wan - Macao")


async def test_a_charge_moves_the_money_once_and_answers_the_gateways_id(
    http: aiohttp.ClientSession, gateway: FakeGateway
) -> None:
    outcome = await make(http, gateway).charge(charge())
    (entry,) = gateway.ledger
    assert (outcome.succeeded, outcome.provider_reference, outcome.amount) == (True, entry.id, FARE)
    assert (entry.customer, entry.amount, entry.currency) == ("usr_1", 17500, "MOP")
    assert gateway.charged_total("usr_1") == 17500


async def test_every_request_is_signed_and_carries_the_reference_as_idempotency_key(
    http: aiohttp.ClientSession, gateway: FakeGateway
) -> None:
    wallet = make(http, gateway)
    charged = await wallet.charge(charge())
    await wallet.refund(RefundRequest("rfd_1", "bkg_1", charged.provider_reference, Money(5000, "MOP")))
    assert gateway.bad_signatures == 0 and gateway.made == {"charge": 1, "refund": 1}
    assert gateway.idempotency_keys == ["bkg_1", "rfd_1"]


async def test_a_wrong_secret_is_refused_by_the_gateway_and_charges_nothing(
    http: aiohttp.ClientSession, gateway: FakeGateway
) -> None:
    with pytest.raises(PartnerError) as caught:
        await make(http, gateway, secret="another-secret-0123456789").charge(charge())
    assert caught.value.details == {"partner": "wallet"}
    assert gateway.bad_signatures == 1 and gateway.ledger == []


async def test_a_request_signed_with_a_stale_clock_is_refused(
    http: aiohttp.ClientSession, gateway: FakeGateway, clock: MovableClock
) -> None:
    an_hour_ago = MovableClock(clock.now() - timedelta(hours=1))
    with pytest.raises(PartnerError):
        await make(http, gateway, clock=an_hour_ago).charge(charge())
    assert gateway.ledger == []


def test_the_signature_covers_the_body() -> None:
    headers = {"X-Timestamp": "1700000000", "X-Nonce": "n1"}
    one = expected_signature("s" * 16, "POST", "/v1/charges", headers, b'{"amount":100}')
    other = expected_signature("s" * 16, "POST", "/v1/charges", headers, b'{"amount":101}')
    assert one != other


async def test_a_declined_charge_is_an_outcome_not_an_error(
    http: aiohttp.ClientSession, gateway: FakeGateway
) -> None:
    gateway.decline_next("insufficient_funds")
    outcome = await make(http, gateway).charge(charge())
    assert (outcome.succeeded, outcome.failure_code) == (False, "declined")
    assert gateway.charged_total() == 0


async def test_retrying_a_declined_charge_answers_the_same_decline(
    http: aiohttp.ClientSession, gateway: FakeGateway
) -> None:
    gateway.declined_customers.add("usr_1")
    wallet = make(http, gateway)
    first, again = await wallet.charge(charge()), await wallet.charge(charge())
    assert first == again and not again.succeeded
    assert gateway.made["charge"] == 1


async def test_a_charge_answered_too_late_is_retried_into_the_same_charge(
    http: aiohttp.ClientSession, gateway: FakeGateway
) -> None:
    wallet = make(http, gateway, timeout_seconds=SHORT_TIMEOUT)
    gateway.hold("charge")
    with pytest.raises(PartnerError):
        await wallet.charge(charge())
    assert gateway.held("charge") == 1  # still unanswered: we gave up on our own timeout
    gateway.release("charge", hold_more=False)
    outcome = await wallet.charge(charge())
    (entry,) = gateway.ledger
    assert outcome.succeeded and outcome.provider_reference == entry.id
    assert gateway.charged_total("usr_1") == 17500


async def test_concurrent_retries_of_one_charge_charge_once(
    http: aiohttp.ClientSession, gateway: FakeGateway
) -> None:
    wallet = make(http, gateway)
    outcomes = await asyncio.gather(*(wallet.charge(charge()) for _ in range(10)))
    assert len({o.provider_reference for o in outcomes}) == 1
    assert gateway.made["charge"] == 1 and gateway.charged_total() == 17500


@pytest.mark.parametrize("status", [500, 502, 503, 429])
async def test_a_failing_gateway_is_a_partner_error_and_charges_nothing(
    http: aiohttp.ClientSession, gateway: FakeGateway, status: int
) -> None:
    gateway.fail_next("charge", status)
    with pytest.raises(PartnerError):
        await make(http, gateway).charge(charge())
    assert gateway.ledger == []


async def test_a_gateway_that_never_answers_does_not_hang_the_caller(
    http: aiohttp.ClientSession, gateway: FakeGateway
) -> None:
    gateway.stall_next("charge")
    async with gives_up_in_time():
        with pytest.raises(PartnerError):
            await make(http, gateway, timeout_seconds=SHORT_TIMEOUT).charge(charge())
    assert gateway.in_flight["charge"] == 1  # still stalled: we gave up on our own timeout
    assert gateway.ledger == []


async def test_an_unreachable_gateway_is_a_partner_error(http: aiohttp.ClientSession) -> None:
    settings = {
        "base_url": unused_url(),
        "merchant_id": "m",
        "secret": "x" * 16,
        "timeout_seconds": PATIENT_TIMEOUT,
    }
    with pytest.raises(PartnerError):
        await build_adapter("wallet_gateway", settings, http=http).charge(charge())


async def test_an_answer_that_is_not_json_is_a_partner_error(
    http: aiohttp.ClientSession, gateway: FakeGateway
) -> None:
    gateway.garble_next("charge")
    with pytest.raises(PartnerError):
        await make(http, gateway).charge(charge())


@pytest.mark.parametrize(
    "answer",
    [
        {
            "charge_id": "ch_1",
            "reference": "bkg_other",
            "status": "succeeded",
            "amount": 17500,
            "currency": "MOP",
        },
        {"charge_id": "ch_1", "reference": "bkg_1", "status": "succeeded", "amount": 1, "currency": "MOP"},
        {
            "charge_id": "ch_1",
            "reference": "bkg_1",
            "status": "succeeded",
            "amount": 17500,
            "currency": "HKD",
        },
        {"charge_id": "ch_1", "reference": "bkg_1", "status": "pending", "amount": 17500, "currency": "MOP"},
        {"reference": "bkg_1", "status": "succeeded", "amount": 17500, "currency": "MOP"},
        ["not", "an", "object"],
    ],
)
async def test_a_charge_answer_not_about_this_charge_is_a_partner_error(
    http: aiohttp.ClientSession, gateway: FakeGateway, answer: Any
) -> None:
    gateway.answer_next("charge", answer, status=201)
    with pytest.raises(PartnerError):
        await make(http, gateway).charge(charge())


async def test_a_422_without_the_gateways_error_body_is_a_partner_error(
    http: aiohttp.ClientSession, gateway: FakeGateway
) -> None:
    gateway.fail_next("refund", 422)
    with pytest.raises(PartnerError):
        await make(http, gateway).refund(RefundRequest("rfd_1", "bkg_1", "ch_1", FARE))


async def test_the_same_reference_for_another_amount_is_a_partner_error_not_a_second_charge(
    http: aiohttp.ClientSession, gateway: FakeGateway
) -> None:
    wallet = make(http, gateway)
    await wallet.charge(charge())
    with pytest.raises(PartnerError):
        await wallet.charge(charge(amount=Money(19000, "MOP")))
    assert gateway.made["charge"] == 1


async def test_a_currency_the_gateway_does_not_take_never_reaches_it(
    http: aiohttp.ClientSession, gateway: FakeGateway
) -> None:
    outcome = await make(http, gateway, currencies=["HKD"]).charge(charge())
    assert (outcome.succeeded, outcome.failure_code) == (False, "currency_not_supported")
    assert gateway.calls["charge"] == 0


async def test_a_zero_amount_moves_no_money_and_never_reaches_the_gateway(
    http: aiohttp.ClientSession, gateway: FakeGateway
) -> None:
    outcome = await make(http, gateway).charge(charge(amount=Money(0, "HKD")))
    assert outcome.succeeded and gateway.calls["charge"] == 0


async def test_a_refund_returns_part_of_a_charge_and_is_idempotent(
    http: aiohttp.ClientSession, gateway: FakeGateway
) -> None:
    wallet = make(http, gateway)
    charged = await wallet.charge(charge())
    request = RefundRequest("rfd_1", "bkg_1", charged.provider_reference, Money(8750, "MOP"))
    first, again = await wallet.refund(request), await wallet.refund(request)
    assert first.succeeded and first == again
    assert gateway.made["refund"] == 1 and gateway.charged_total("usr_1") == 8750


async def test_a_refund_above_what_is_left_is_refused(
    http: aiohttp.ClientSession, gateway: FakeGateway
) -> None:
    wallet = make(http, gateway)
    charged = await wallet.charge(charge())
    await wallet.refund(RefundRequest("rfd_1", "bkg_1", charged.provider_reference, Money(10000, "MOP")))
    outcome = await wallet.refund(
        RefundRequest("rfd_2", "bkg_1", charged.provider_reference, Money(10000, "MOP"))
    )
    assert (outcome.succeeded, outcome.failure_code) == (False, "refund_exceeds_charge")
    assert gateway.charged_total() == 7500


async def test_refunding_a_charge_the_gateway_does_not_know_is_refused(
    http: aiohttp.ClientSession, gateway: FakeGateway
) -> None:
    outcome = await make(http, gateway).refund(RefundRequest("rfd_1", "bkg_1", "ch_nowhere", FARE))
    assert (outcome.succeeded, outcome.failure_code) == (False, "unknown_charge")


async def test_a_refund_that_timed_out_is_retried_without_refunding_twice(
    http: aiohttp.ClientSession, gateway: FakeGateway
) -> None:
    wallet = make(http, gateway)
    charged = await wallet.charge(charge())
    request = RefundRequest("rfd_1", "bkg_1", charged.provider_reference, FARE)
    gateway.fail_next("refund", 502, after_work=True)
    with pytest.raises(PartnerError):
        await wallet.refund(request)
    assert (await wallet.refund(request)).succeeded
    assert gateway.made["refund"] == 1 and gateway.charged_total() == 0


def test_the_shipped_config_block_is_disabled_until_given_a_secret() -> None:
    config = load_config(profile="test", environ={})
    (block,) = [b for b in config.adapter_blocks if b.module == "wallet_gateway"]
    assert not block.enabled


async def test_a_charge_is_looked_up_by_its_reference_without_charging(
    http: aiohttp.ClientSession, gateway: FakeGateway
) -> None:
    wallet = make(http, gateway)
    assert await wallet.lookup("bkg_1:charge:0") is None  # the gateway never saw it
    gateway.fail_next("charge", 503, after_work=True)
    with pytest.raises(PartnerError):
        await wallet.charge(charge("bkg_1:charge:0"))

    found = await wallet.lookup("bkg_1:charge:0")

    (entry,) = gateway.ledger
    assert found is not None and (found.succeeded, found.provider_reference, found.amount) == (
        True,
        entry.id,
        FARE,
    )
    assert (gateway.made["charge"], gateway.calls["lookup"]) == (1, 2)
    gateway.decline_next()
    await wallet.charge(charge("bkg_2:charge:0"))
    declined = await wallet.lookup("bkg_2:charge:0")
    assert declined is not None and (declined.succeeded, declined.failure_code) == (False, "declined")


async def test_a_look_up_the_gateway_fails_is_a_partner_error_not_a_missing_charge(
    http: aiohttp.ClientSession, gateway: FakeGateway
) -> None:
    gateway.fail_next("lookup", 503)
    with pytest.raises(PartnerError):
        await make(http, gateway).lookup("bkg_1:charge:0")
    gateway.answer_next("lookup", {"charge_id": "ch_x", "reference": "someone-else", "status": "succeeded"})
    with pytest.raises(PartnerError):
        await make(http, gateway).lookup("bkg_1:charge:0")
