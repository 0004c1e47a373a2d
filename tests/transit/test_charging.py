"""Charging journeys through the rider's payment provider; an unpaid fare blocks riding."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import asyncpg

from bayaffairs.adapters.protocols import ChargeRequest, FxRate, PaymentOutcome, PaymentProvider
from bayaffairs.fx import convert
from bayaffairs.handlers.keys import SERVICES
from tests.conftest import AppFactory
from tests.support import MovableClock, test_config
from tests.transit.conftest import Ride

BUS = "shenzhen_bus"


class FixedRate:
    def __init__(self, rate: Decimal) -> None:
        self.value = rate

    async def rate(self, base: str, quote: str, at: datetime) -> FxRate:
        return FxRate(base, quote, self.value, at, "fixed")


async def ride_bus(ride: Ride) -> str:
    gate = await ride.gate(BUS)
    answer = await ride.scan(gate, (await ride.code("shenzhen"))["payload"], ride.stops(BUS)[0])
    assert answer["decision"] == "open"
    return answer["journey_id"]


async def test_a_priced_journey_is_charged_once_with_the_providers_reference(
    ride: Ride, pg: asyncpg.Connection
) -> None:
    journey_id = await ride_bus(ride)
    assert await ride.services.transit.charges.charge_pending() == 1
    row = await pg.fetchrow(
        "SELECT charge_status, charge_reference, charged_at FROM journeys WHERE id = $1", journey_id
    )
    assert (
        row["charge_status"] == "charged"
        and row["charge_reference"].startswith("demo_")
        and row["charged_at"]
    )
    assert await ride.services.transit.charges.charge_pending() == 0


async def test_a_declined_charge_puts_the_account_on_the_deny_list(
    make_api: AppFactory, clock: MovableClock, pg: asyncpg.Connection
) -> None:
    api = await make_api(test_config({"adapters": {"demo": {"decline_over": 1}}}))
    services = api.client.server.app[SERVICES]
    await services.transit.issuer_keys.rotate("ride_codes")
    rider = await api.sign_in("broke")
    await rider.put("/v1/me/wallet", {"currency": "CNY", "provider": "demo"})
    ride = Ride(api, rider, services, clock)
    journey_id = await ride_bus(ride)
    await services.transit.charges.charge_pending()
    assert await pg.fetchval("SELECT charge_status FROM journeys WHERE id = $1", journey_id) == "failed"
    status, body = await rider.post("/v1/ride-codes", {"city": "shenzhen"})
    assert (status, body["error"]["code"]) == (403, "account_denied")
    gate = await ride.gate(BUS)
    _, delta = await gate.get("/v1/gate/denylist?since=0")
    assert [c["kind"] for c in delta["changes"]] == ["account"]


async def test_a_rate_feed_outage_does_not_stop_the_gates(
    make_api: AppFactory, clock: MovableClock, pg: asyncpg.Connection
) -> None:
    dead_feed = {"enabled": True, "base_url": "http://127.0.0.1:1", "api_key": "k", "timeout_seconds": 0.2}
    api = await make_api(test_config({"adapters": {"demo_fx": {"enabled": False}, "fx_feed": dead_feed}}))
    services = api.client.server.app[SERVICES]
    await services.transit.issuer_keys.rotate("ride_codes")
    rider = await api.sign_in("fx-outage")
    await rider.put("/v1/me/wallet", {"currency": "HKD", "provider": "demo"})
    ride = Ride(api, rider, services, clock)
    gate = await ride.gate(BUS)
    answer = await ride.scan(gate, (await ride.code("shenzhen"))["payload"], ride.stops(BUS)[0])
    assert answer["decision"] == "open" and answer["fare"]["currency"] == "CNY" and answer["charge"] is None
    row = await pg.fetchrow("SELECT fare_amount, charge_amount FROM journeys")
    assert row["fare_amount"] > 0 and row["charge_amount"] is None
    charges = services.transit.charges
    assert await charges.charge_pending() == 1  # still no rate: left for the next round
    assert await pg.fetchval("SELECT charge_status FROM journeys") == "pending"
    services.transit.converter.source = FixedRate(Decimal("1.0870"))  # the feed is back
    assert await charges.charge_pending() == 1
    row = await pg.fetchrow(
        "SELECT fare_amount, charge_amount, charge_currency, fx_rate, charge_status FROM journeys"
    )
    assert (row["charge_status"], row["charge_currency"], row["fx_rate"]) == (
        "charged",
        "HKD",
        Decimal("1.0870"),
    )
    assert row["charge_amount"] == convert(row["fare_amount"], "CNY", "HKD", Decimal("1.0870"))


class CrashingOnSecondCharge:
    """The demo provider, whose second charge of a round fails with an unexpected error."""

    def __init__(self, provider: PaymentProvider) -> None:
        self.provider = provider
        self.calls = 0

    async def charge(self, request: ChargeRequest) -> PaymentOutcome:
        self.calls += 1
        if self.calls == 2:
            raise RuntimeError("the provider's client crashed")
        return await self.provider.charge(request)


async def test_charges_that_went_through_are_recorded_when_a_later_one_fails_unexpectedly(
    ride: Ride, clock: MovableClock, pg: asyncpg.Connection
) -> None:
    first = await ride_bus(ride)
    clock.advance(minutes=5)
    second = await ride_bus(ride)
    charges = ride.services.transit.charges
    demo = charges.providers("demo")
    assert demo is not None
    crashing = CrashingOnSecondCharge(demo)
    charges.providers = lambda _: crashing  # type: ignore[assignment,return-value]

    assert await charges.charge_pending() == 2  # the surprise is logged; the run's outcomes kept

    statuses = dict(
        await pg.fetch("SELECT id, charge_status FROM journeys WHERE id = ANY($1)", [first, second])
    )
    # the second is put back for the next run (not left `charging` until its claim is stale)
    assert statuses == {first: "charged", second: "pending"}
    assert await charges.charge_pending() == 1 and crashing.calls == 3
    assert await pg.fetchval("SELECT charge_status FROM journeys WHERE id = $1", second) == "charged"


async def test_a_bus_taps_answer_carries_its_fare_and_the_charge_in_the_riders_currency(
    ride: Ride, pg: asyncpg.Connection
) -> None:
    """A journey priced as it is written (a flat fare at tap-in): the gate's answer is made
    straight from its row (the fare, and the charge converted to the wallet's currency: the
    `ride` fixture's rider pays from an HKD wallet)."""
    gate = await ride.gate(BUS)
    answer = await ride.scan(gate, (await ride.code("shenzhen"))["payload"], ride.stops(BUS)[0])
    row = await pg.fetchrow(
        "SELECT id, fare_amount, fare_currency, charge_amount, charge_currency FROM journeys"
    )
    assert row["fare_currency"] == "CNY" and row["charge_currency"] == "HKD" and row["charge_amount"] > 0
    assert answer == {
        "decision": "open",
        "reason": None,
        "journey_id": row["id"],
        "fare": {"amount": row["fare_amount"], "currency": "CNY"},
        "charge": {"amount": row["charge_amount"], "currency": "HKD"},
    }
