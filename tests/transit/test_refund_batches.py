"""The refund job (bayaffairs/transit/charging.py refund_due) under a backlog: a batch claimed at
once, the providers called side by side up to `charge_concurrency`, the outcomes written in one
statement; a refund is never paid twice (its line's id is the provider's idempotency key), a
dead worker's claim is taken again once stale, and a refund not answered is left for the next
run. The provider is the wallet gateway adapter against a local aiohttp gateway."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from bayaffairs.adapters.protocols import RefundRequest
from bayaffairs.db.queries import journeys as journeys_q
from bayaffairs.errors import PartnerError
from bayaffairs.handlers.keys import SERVICES
from bayaffairs.money import Money
from tests.conftest import AppFactory
from tests.integrations.wallet_gateway.fake_gateway import FakeGateway
from tests.support import Api, MovableClock
from tests.transit.conftest import Ride
from tests.transit.test_charge_batches import HOLDING_TIMEOUT, app_on

METRO = "shenzhen_metro"


@pytest.fixture
async def gateway(clock: MovableClock) -> AsyncIterator[FakeGateway]:
    async with FakeGateway(clock) as fake:
        yield fake


async def overstays(
    api: Api, clock: MovableClock, pg: asyncpg.Connection, handle: str, times: int
) -> list[str]:
    """A rider paying through the gateway overstays `times` journeys, each closed as unfinished,
    charged the maximum fare and then tapped out late: a refund line each; their ids."""
    services = api.client.server.app[SERVICES]
    rider = await api.sign_in(handle)
    assert (await rider.put("/v1/me/wallet", {"currency": "HKD", "provider": "wallet_gateway"}))[0] == 200
    ride = Ride(api, rider, services, clock)
    gate = await ride.gate(METRO)
    stops = ride.stops(METRO)
    journeys = []
    for _ in range(times):
        opened = await ride.scan(gate, (await ride.code("shenzhen"))["payload"], stops[0])
        assert opened["decision"] == "open"
        clock.advance(minutes=ride.operator(METRO).rules.max_journey_minutes + 30)
        assert await services.transit.journeys.close_overdue() == 1
        assert await services.transit.charges.charge_pending() == 1
        out = await ride.scan(gate, (await ride.code("shenzhen"))["payload"], stops[1], "out")
        assert (out["decision"], out["journey_id"]) == ("open", opened["journey_id"])
        journeys.append(opened["journey_id"])
    rows = await pg.fetch("SELECT id FROM journey_refunds WHERE journey_id = ANY($1::text[])", journeys)
    assert len(rows) == times
    return [r["id"] for r in rows]


async def statuses(pg: asyncpg.Connection) -> dict[str, tuple[str, str | None]]:
    rows = await pg.fetch("SELECT id, status, provider_reference FROM journey_refunds")
    return {r["id"]: (r["status"], r["provider_reference"]) for r in rows}


def refunds_of(gateway: FakeGateway) -> dict[str, str]:
    """The gateway's refunds by our reference (the refund line's id): its id; each once."""
    refunds = [e for e in gateway.ledger if e.kind == "refund"]
    assert len({e.reference for e in refunds}) == len(refunds), "a refund paid twice"
    return {e.reference: e.id for e in refunds}


async def test_a_batch_of_refunds_is_paid_in_one_run_with_provider_calls_side_by_side(
    make_api: AppFactory, clock: MovableClock, gateway: FakeGateway, pg: asyncpg.Connection
) -> None:
    api = await app_on(make_api, gateway, charge_concurrency=3, timeout_seconds=HOLDING_TIMEOUT)
    refunds = []
    for n in range(3):
        refunds += await overstays(api, clock, pg, f"refunded-{n}", 2)
    gateway.hold("refund")  # answers wait, let go three at a time
    charges = api.client.server.app[SERVICES].transit.charges

    run = asyncio.create_task(charges.refund_due())
    for wave in (3, 3):
        await gateway.until_held("refund", wave)
        assert gateway.held("refund") == wave and not run.done()
        gateway.release("refund")
    gateway.release("refund", hold_more=False)
    assert await run == 6

    paid = refunds_of(gateway)
    assert sorted(paid) == sorted(refunds)
    assert await statuses(pg) == {r: ("refunded", paid[r]) for r in refunds}
    assert gateway.most_in_flight["refund"] == 3
    assert await charges.refund_due() == 0 and gateway.calls["refund"] == 6


async def test_refunds_not_answered_are_left_for_the_next_run_and_paid_once(
    make_api: AppFactory, clock: MovableClock, gateway: FakeGateway, pg: asyncpg.Connection
) -> None:
    api = await app_on(make_api, gateway, charge_concurrency=2)
    refunds = await overstays(api, clock, pg, "unanswered", 4)
    gateway.fail_next("refund", 503, times=2)  # two calls of the run, whichever they are
    charges = api.client.server.app[SERVICES].transit.charges

    assert await charges.refund_due() == 4

    paid = refunds_of(gateway)
    unanswered = set(refunds) - set(paid)
    assert len(unanswered) == 2
    assert await statuses(pg) == {r: ("pending", None) for r in unanswered} | {
        r: ("refunded", paid[r]) for r in paid
    }
    assert await charges.refund_due() == 2
    assert sorted(refunds_of(gateway)) == sorted(refunds) and gateway.made["refund"] == 4


async def test_a_dead_workers_claim_is_taken_again_once_stale_and_paid_once(
    make_api: AppFactory, clock: MovableClock, gateway: FakeGateway, pg: asyncpg.Connection
) -> None:
    api = await app_on(make_api, gateway)
    called, claimed = await overstays(api, clock, pg, "crash", 2)
    charges = api.client.server.app[SERVICES].transit.charges
    # A worker claimed both, had the gateway pay one of them, and died.
    async with charges.db.transaction() as conn:
        jobs = await journeys_q.claim_refunds(conn, 10, stale_seconds=300)
    assert sorted(j.id for j in jobs) == sorted([called, claimed])
    job = next(j for j in jobs if j.id == called)
    provider = charges.providers("wallet_gateway")
    assert job.charge_reference is not None
    first = await provider.refund(
        RefundRequest(job.id, job.journey_id, job.charge_reference, Money(job.amount, job.currency))
    )
    assert first.succeeded
    assert await charges.refund_due() == 0  # claimed, and not stale yet

    await pg.execute("UPDATE journey_refunds SET updated_at = now() - interval '301 seconds'")
    assert await charges.refund_due() == 2

    assert refunds_of(gateway)[called] == first.provider_reference
    assert await statuses(pg) == {
        called: ("refunded", first.provider_reference),
        claimed: ("refunded", refunds_of(gateway)[claimed]),
    }
    assert gateway.made["refund"] == 2  # the dead worker's refund answered again, not made again


async def test_the_refund_of_a_charge_that_was_declined_is_void_and_never_asked_for(
    make_api: AppFactory, clock: MovableClock, gateway: FakeGateway, pg: asyncpg.Connection
) -> None:
    api = await app_on(make_api, gateway, timeout_seconds=HOLDING_TIMEOUT)
    services = api.client.server.app[SERVICES]
    rider = await api.sign_in("declined")
    assert (await rider.put("/v1/me/wallet", {"currency": "HKD", "provider": "wallet_gateway"}))[0] == 200
    gateway.declined_customers.add((await rider.get("/v1/me"))[1]["id"])
    ride = Ride(api, rider, services, clock)
    gate = await ride.gate(METRO)
    stops = ride.stops(METRO)
    opened = await ride.scan(gate, (await ride.code("shenzhen"))["payload"], stops[0])
    clock.advance(minutes=ride.operator(METRO).rules.max_journey_minutes + 30)
    assert await services.transit.journeys.close_overdue() == 1
    charges = services.transit.charges
    gateway.hold("charge")
    run = asyncio.create_task(charges.charge_pending())
    await gateway.until_held("charge", 1)  # the maximum fare's charge is under way, unanswered
    assert gateway.calls["charge"] == 1 and not run.done()
    # Tapped out late meanwhile: the difference is a refund line, until the charge is declined.
    out = await ride.scan(gate, (await ride.code("shenzhen"))["payload"], stops[1], "out")
    assert out["journey_id"] == opened["journey_id"]
    assert [s for s, _ in (await statuses(pg)).values()] == ["pending"]
    assert gateway.held("charge") == 1 and not run.done()
    gateway.release("charge", hold_more=False)
    assert await run == 1

    assert [s for s, _ in (await statuses(pg)).values()] == ["void"]
    assert await charges.refund_due() == 0 and gateway.calls["refund"] == 0


class Held:
    """A provider whose first `held` refund calls each wait for their turn (`go`), the first of
    them then going unanswered; the others are made."""

    def __init__(self, inner: Any, held: int = 2) -> None:
        self.inner = inner
        self.asked: list[str] = []
        self.entered = [asyncio.Event() for _ in range(held)]
        self.go = [asyncio.Event() for _ in range(held)]

    async def refund(self, request: RefundRequest) -> Any:
        n = len(self.asked)
        self.asked.append(request.reference)
        if n < len(self.go):
            self.entered[n].set()
            await self.go[n].wait()
            if n == 0:
                raise PartnerError("wallet_unavailable")
        return await self.inner.refund(request)


async def test_a_refund_claim_taken_over_stays_claimed_when_the_first_workers_call_goes_unanswered(
    make_api: AppFactory, clock: MovableClock, gateway: FakeGateway, pg: asyncpg.Connection
) -> None:
    """A worker's refund call outlasts stale_seconds, another worker takes the line over and
    calls the provider, and the first call then ends unanswered: its `pending` must not undo the
    other's claim (the line would be claimed and asked for a third time while the second call is
    under way, the provider's idempotency key the only guard against paying it twice)."""
    api = await app_on(make_api, gateway)
    (refund_id,) = await overstays(api, clock, pg, "refund-taken-over", 1)
    charges = api.client.server.app[SERVICES].transit.charges
    held = Held(charges.providers("wallet_gateway"))
    charges.providers = lambda name: held
    first = asyncio.create_task(charges.refund_due())
    await asyncio.wait_for(held.entered[0].wait(), 10)
    await pg.execute("UPDATE journey_refunds SET updated_at = now() - interval '301 seconds'")
    second = asyncio.create_task(charges.refund_due())
    await asyncio.wait_for(held.entered[1].wait(), 10)  # control: the other worker took it over
    held.go[0].set()
    assert await first == 1
    assert not second.done()  # control: its call is still under way

    assert (await statuses(pg))[refund_id] == ("refunding", None)
    assert await charges.refund_due() == 0  # a third worker finds it claimed
    held.go[1].set()
    assert await second == 1
    assert held.asked == [refund_id, refund_id]
    assert await statuses(pg) == {refund_id: ("refunded", refunds_of(gateway)[refund_id])}


async def test_an_unexpected_error_of_one_refund_call_leaves_that_line_pending_and_the_others_paid(
    make_api: AppFactory, clock: MovableClock, gateway: FakeGateway, pg: asyncpg.Connection
) -> None:
    api = await app_on(make_api, gateway)
    surprised, paid = await overstays(api, clock, pg, "refund-surprise", 2)
    charges = api.client.server.app[SERVICES].transit.charges
    lookup = charges.providers

    class Surprising:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        async def refund(self, request: RefundRequest) -> Any:
            if request.reference == surprised:
                raise RuntimeError("a bug of the adapter")
            return await self.inner.refund(request)

    charges.providers = lambda name: Surprising(lookup(name))
    assert await charges.refund_due() == 2
    assert await statuses(pg) == {surprised: ("pending", None), paid: ("refunded", refunds_of(gateway)[paid])}
    charges.providers = lookup
    assert await charges.refund_due() == 1
    assert sorted(refunds_of(gateway)) == sorted([surprised, paid])
