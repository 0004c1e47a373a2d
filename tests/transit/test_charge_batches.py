"""The charging job under a backlog (bayaffairs/transit/charging.py): rounds of claims, the
providers called with bounded concurrency, outcomes recorded per round; a charge is never made
twice and a failure leaves exactly its own journeys for the retry or the debt. The provider is
the wallet gateway adapter against a local aiohttp gateway (tests/integrations/wallet_gateway)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from bayaffairs.adapters.protocols import ChargeRequest, PaymentOutcome, PaymentProvider
from bayaffairs.db.queries import journeys as journeys_q
from bayaffairs.errors import PartnerError
from bayaffairs.handlers.keys import SERVICES
from bayaffairs.money import Money
from tests.conftest import AppFactory
from tests.integrations.support import PATIENT_TIMEOUT
from tests.integrations.wallet_gateway.fake_gateway import FakeGateway
from tests.support import Api, MovableClock, test_config
from tests.transit.conftest import Ride

BUS = "shenzhen_bus"


@pytest.fixture
async def gateway(clock: MovableClock) -> AsyncIterator[FakeGateway]:
    async with FakeGateway(clock) as fake:
        yield fake


# The adapter's timeout in tests that hold the gateway's answers (FaultyPartner.hold) while they
# look at the database: longer than the fake's own HOLD_SAFETY_SECONDS, so a held call is
# answered when the test releases it however slow the machine, never given up by the client.
HOLDING_TIMEOUT = 60.0


async def app_on(
    make_api: AppFactory, gateway: FakeGateway, *, timeout_seconds: float = PATIENT_TIMEOUT, **ride_codes: Any
) -> Api:
    config = test_config(
        {
            "ride_codes": ride_codes,
            "adapters": {"wallet_gateway": {"enabled": True, **gateway.settings(timeout_seconds)}},
        }
    )
    api = await make_api(config)
    await api.client.server.app[SERVICES].transit.issuer_keys.rotate("ride_codes")
    return api


async def rider_rides(api: Api, clock: MovableClock, handle: str, rides: int) -> tuple[str, list[str]]:
    """A rider paying through the gateway takes `rides` bus rides: (user id, journey ids)."""
    services = api.client.server.app[SERVICES]
    rider = await api.sign_in(handle)
    assert (await rider.put("/v1/me/wallet", {"currency": "HKD", "provider": "wallet_gateway"}))[0] == 200
    user_id = (await rider.get("/v1/me"))[1]["id"]
    return user_id, await Ride(api, rider, services, clock).rides_in(BUS, rides)


async def statuses(pg: asyncpg.Connection) -> dict[str, tuple[str, str | None]]:
    """{journey: (its charge status as the service reads it, the provider's reference)}: a
    journey the job holds a claim on is `charging` (charge_claims, 0056)."""
    rows = await pg.fetch("SELECT id, charge_reference FROM journeys")
    read = {j.id: j.charge_status for j in await journeys_q.get_many(pg, [r["id"] for r in rows])}
    return {r["id"]: (read[r["id"]], r["charge_reference"]) for r in rows}


def charges_of(gateway: FakeGateway) -> dict[str, tuple[str, str]]:
    """The gateway's charges by our reference: (its status, its id); each reference once."""
    charges = [e for e in gateway.ledger if e.kind == "charge"]
    assert len({e.reference for e in charges}) == len(charges), "a journey charged twice"
    return {e.reference: (e.status, e.id) for e in charges}


async def test_a_backlog_of_several_rounds_is_charged_in_one_run_of_the_job(
    make_api: AppFactory, clock: MovableClock, gateway: FakeGateway, pg: asyncpg.Connection
) -> None:
    api = await app_on(make_api, gateway, charge_batch=4, charge_concurrency=3)
    journeys = []
    for n in range(3):
        journeys += (await rider_rides(api, clock, f"backlog-{n}", 3))[1]
    charges = api.client.server.app[SERVICES].transit.charges

    assert await charges.charge_pending() == 9  # rounds of 4, 4 and 1

    charged = charges_of(gateway)
    assert sorted(charged) == sorted(journeys)
    assert await statuses(pg) == {j: ("charged", charged[j][1]) for j in journeys}
    assert await charges.charge_pending() == 0 and gateway.calls["charge"] == 9


async def test_one_run_of_the_job_takes_at_most_its_rounds_and_the_next_run_goes_on(
    make_api: AppFactory, clock: MovableClock, gateway: FakeGateway, pg: asyncpg.Connection
) -> None:
    api = await app_on(make_api, gateway, charge_batch=2, charge_rounds=2)
    _, journeys = await rider_rides(api, clock, "bounded", 5)
    charges = api.client.server.app[SERVICES].transit.charges

    assert await charges.charge_pending() == 4
    assert sorted(s for s, _ in (await statuses(pg)).values()) == ["charged"] * 4 + ["pending"]
    assert await charges.charge_pending() == 1
    assert sorted(charges_of(gateway)) == sorted(journeys)


async def test_a_provider_failing_mid_batch_leaves_exactly_its_journeys_for_the_retry_or_the_debt(
    make_api: AppFactory, clock: MovableClock, gateway: FakeGateway, pg: asyncpg.Connection
) -> None:
    api = await app_on(make_api, gateway, charge_batch=3, charge_concurrency=2)
    _, paying = await rider_rides(api, clock, "payer", 4)
    broke_id, broke = await rider_rides(api, clock, "broke", 2)
    gateway.declined_customers.add(broke_id)
    gateway.fail_next("charge", 503, times=2)  # two calls of the run not answered, whichever they are
    charges = api.client.server.app[SERVICES].transit.charges

    assert await charges.charge_pending() == 6

    answered = charges_of(gateway)
    unanswered = set(paying + broke) - set(answered)
    assert len(unanswered) == 2 and gateway.calls["charge"] == 6
    expected = {j: ("pending", None) for j in unanswered}
    outcome = {"succeeded": "charged", "declined": "failed"}
    expected |= {j: (outcome[status], ref) for j, (status, ref) in answered.items()}
    assert await statuses(pg) == expected
    debts = await pg.fetch("SELECT journey_id, status FROM ride_debts")
    assert sorted(d["journey_id"] for d in debts) == sorted(j for j in broke if j in answered)
    assert {j for j, (status, _) in answered.items() if status == "declined"} <= set(broke)
    denied = await pg.fetch("SELECT action FROM deny_list WHERE kind = 'account'")
    assert [d["action"] for d in denied] == ["add"]  # one entry for the account, however many debts

    # The next run charges the two left, once each; the declined are debts, not charged again.
    assert await charges.charge_pending() == 2
    final = charges_of(gateway)
    assert sorted(final) == sorted(paying + broke) and gateway.calls["charge"] == 8
    assert {j for j, (status, _) in final.items() if status == "declined"} == set(broke)
    assert {j: s for j, (s, _) in (await statuses(pg)).items()} == (
        {j: "charged" for j in paying} | {j: "failed" for j in broke}
    )
    assert await pg.fetchval("SELECT count(*) FROM ride_debts") == 2
    assert await pg.fetchval("SELECT count(*) FROM deny_list WHERE kind = 'account'") == 1


async def test_provider_calls_run_side_by_side_up_to_the_setting(
    make_api: AppFactory, clock: MovableClock, gateway: FakeGateway
) -> None:
    api = await app_on(
        make_api, gateway, charge_batch=20, charge_concurrency=3, timeout_seconds=HOLDING_TIMEOUT
    )
    await rider_rides(api, clock, "side-by-side", 8)
    gateway.hold("charge")  # answers wait, let go three at a time (the last two)
    charges = api.client.server.app[SERVICES].transit.charges

    run = asyncio.create_task(charges.charge_pending())
    for wave in (3, 3, 2):
        await gateway.until_held("charge", wave)
        assert gateway.held("charge") == wave and not run.done()
        gateway.release("charge")
    gateway.release("charge", hold_more=False)
    assert await run == 8
    assert gateway.most_in_flight["charge"] == 3 and gateway.calls["charge"] == 8


async def test_a_provider_answering_at_once_lets_the_worker_turn_after_each_wave_of_calls(ride: Ride) -> None:
    """The job's worker also answers gates. A provider that answers without waiting on anything
    (the demo wallet) must not turn a round into one unbroken stretch of the event loop: at most
    `charge_concurrency` calls run before the loop turns (a round of 500 calls in one stretch held
    every gate's answer in that worker for 11-22 ms under the scan bench)."""
    await ride.rides_in(BUS, 6)
    charges = ride.services.transit.charges
    charges.concurrency = 2
    providers = charges.providers
    turns = 0
    calls_at: list[int] = []  # the loop's turn each provider call was made in

    class Counted(PaymentProvider):
        def __init__(self, inner: PaymentProvider) -> None:
            self.inner = inner

        async def charge(self, request: ChargeRequest) -> PaymentOutcome:
            calls_at.append(turns)
            return await self.inner.charge(request)

    def counted(name: str) -> PaymentProvider | None:
        inner = providers(name)
        return None if inner is None else Counted(inner)

    async def ticker() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    charges.providers = counted
    ticking = asyncio.create_task(ticker())
    try:
        assert await charges.charge_pending() == 6
    finally:
        ticking.cancel()
    assert len(calls_at) == 6
    assert max(Counter(calls_at).values()) <= 2


async def test_claims_commit_before_the_provider_is_called_and_a_dead_workers_claim_is_charged_once(
    make_api: AppFactory, clock: MovableClock, gateway: FakeGateway, pg: asyncpg.Connection
) -> None:
    api = await app_on(make_api, gateway, charge_batch=10, timeout_seconds=HOLDING_TIMEOUT)
    user_id, (called, claimed) = await rider_rides(api, clock, "crash", 2)
    services = api.client.server.app[SERVICES]
    # A worker claimed both, called the gateway for one of them, and died.
    async with services.transit.charges.db.transaction() as conn:
        jobs = await journeys_q.claim_charges(conn, 10, stale_seconds=300, hold_seconds=0)
    assert sorted(j.journey_id for j in jobs) == sorted([called, claimed])
    job = next(j for j in jobs if j.journey_id == called)
    provider = services.transit.charges.providers("wallet_gateway")
    assert job.amount is not None and job.currency is not None
    first = await provider.charge(  # as the job asks it
        ChargeRequest(job.journey_id, Money(job.amount, job.currency), user_id, f"ride with {job.operator}")
    )
    assert first.succeeded
    charges = services.transit.charges
    assert await charges.charge_pending() == 0  # claimed, and not stale yet

    await pg.execute("UPDATE charge_claims SET claimed_at = now() - interval '301 seconds'")
    gateway.hold("charge")
    run = asyncio.create_task(charges.charge_pending())
    await gateway.until_held("charge", 2)  # both calls made, neither answered yet
    assert gateway.calls["charge"] == 3 and not run.done()
    # The claim is seen from another connection while the gateway has not answered.
    assert {s for s, _ in (await statuses(pg)).values()} == {"charging"}
    assert gateway.held("charge") == 2
    gateway.release("charge", hold_more=False)
    assert await run == 2

    assert charges_of(gateway)[called] == ("succeeded", first.provider_reference)
    assert await statuses(pg) == {
        called: ("charged", first.provider_reference),
        claimed: ("charged", charges_of(gateway)[claimed][1]),
    }
    assert gateway.made["charge"] == 2  # the dead worker's charge answered again, not made again


async def test_an_unanswered_charge_is_pending_again_when_its_round_ends_and_its_run_does_not_ask_again(
    make_api: AppFactory, clock: MovableClock, gateway: FakeGateway, pg: asyncpg.Connection
) -> None:
    """Released at the end of its round, not of the run: a run of many rounds never keeps a claim
    it will not use, which a worker taking stale claims could otherwise have taken meanwhile."""
    api = await app_on(
        make_api, gateway, charge_batch=2, charge_concurrency=1, timeout_seconds=HOLDING_TIMEOUT
    )
    _, journeys = await rider_rides(api, clock, "unanswered", 5)
    gateway.fail_next("charge", 503)  # the run's first call (answered at once, not held)
    gateway.hold("charge")
    charges = api.client.server.app[SERVICES].transit.charges

    run = asyncio.create_task(charges.charge_pending())
    await gateway.until_held("charge", 1)  # the first round's second call
    assert gateway.calls["charge"] == 2
    gateway.release("charge")  # its round ends; the second round's first call is then held
    await gateway.until_held("charge", 1)
    assert gateway.calls["charge"] == 3 and not run.done()
    during = await statuses(pg)  # while the second round's call is under way
    gateway.release("charge", hold_more=False)
    assert await run == 5

    answered = charges_of(gateway)
    (unanswered,) = set(journeys) - set(answered)
    assert during[unanswered] == ("pending", None)
    # Seen mid-run: one charged in the first round, the second round's two claimed, one to come.
    assert sorted(s for s, _ in during.values()) == ["charged", "charging", "charging", "pending", "pending"]
    assert gateway.calls["charge"] == 5  # the same run did not ask for it again
    assert (await statuses(pg))[unanswered] == ("pending", None)
    assert await charges.charge_pending() == 1
    assert sorted(charges_of(gateway)) == sorted(journeys)


async def test_under_a_backlog_the_job_pauses_between_rounds_to_keep_to_its_share_of_the_worker(
    make_api: AppFactory, clock: MovableClock, gateway: FakeGateway
) -> None:
    """The job's worker also answers gates: at `charge_share` 0.25 a round that took one second
    is followed by three seconds of pause, so charges take at most a quarter of its time. The
    timer here says each round took 1 s; nothing sleeps."""
    api = await app_on(make_api, gateway, charge_batch=2, charge_share=0.25)
    _, journeys = await rider_rides(api, clock, "paced", 5)
    charges = api.client.server.app[SERVICES].transit.charges
    ticks = iter(range(100))
    pauses: list[float] = []

    async def pause(seconds: float) -> None:
        pauses.append(seconds)

    charges.timer = lambda: float(next(ticks))
    charges.pause = pause

    assert await charges.charge_pending() == 5  # rounds of 2, 2 and 1
    assert pauses == [3.0, 3.0]  # between rounds, none after the last
    assert sorted(charges_of(gateway)) == sorted(journeys)


async def test_at_a_full_share_the_job_does_not_pause(
    make_api: AppFactory, clock: MovableClock, gateway: FakeGateway
) -> None:
    api = await app_on(make_api, gateway, charge_batch=2, charge_share=1.0)
    await rider_rides(api, clock, "unpaced", 5)
    charges = api.client.server.app[SERVICES].transit.charges
    pauses: list[float] = []

    async def pause(seconds: float) -> None:
        pauses.append(seconds)

    charges.pause = pause
    assert await charges.charge_pending() == 5
    assert pauses == []


async def test_a_charge_a_worker_of_the_code_before_0056_left_charging_is_taken_over_once_stale(
    make_api: AppFactory, clock: MovableClock, gateway: FakeGateway, pg: asyncpg.Connection
) -> None:
    """A rolling deploy: an old worker still marks the journeys row `charging` (the new code's
    claims are rows of charge_claims, 0056); once stale the job takes it over, as a dead
    worker's."""
    api = await app_on(make_api, gateway)
    _, (journey_id,) = await rider_rides(api, clock, "legacy", 1)
    charges = api.client.server.app[SERVICES].transit.charges
    await pg.execute("UPDATE journeys SET charge_status = 'charging', updated_at = now()")
    assert await charges.charge_pending() == 0  # control: its claim is not stale yet
    assert (await statuses(pg))[journey_id] == ("charging", None)

    await pg.execute("UPDATE journeys SET updated_at = now() - interval '301 seconds'")
    assert await charges.charge_pending() == 1
    assert (await statuses(pg))[journey_id] == ("charged", charges_of(gateway)[journey_id][1])
    assert await pg.fetchval("SELECT count(*) FROM charge_claims") == 0


async def test_a_worker_whose_stale_claim_was_taken_over_leaves_the_new_claim_when_its_call_goes_unanswered(
    make_api: AppFactory, clock: MovableClock, gateway: FakeGateway, pg: asyncpg.Connection
) -> None:
    """A worker's provider call outlasts stale_seconds; another worker takes its claim over and
    calls the provider; the first call then ends unanswered. Putting that charge back must not
    drop the claim the other worker holds: its journey would read pending while the other's
    charge is under way (a repricing would take it for a charge never sent, and a third worker
    would claim it and ask the provider again)."""
    api = await app_on(make_api, gateway)
    _, (journey_id,) = await rider_rides(api, clock, "taken-over", 1)
    charges = api.client.server.app[SERVICES].transit.charges
    lookup = charges.providers
    entered = [asyncio.Event(), asyncio.Event()]
    go = [asyncio.Event(), asyncio.Event()]
    asked: list[str] = []

    class Held:
        """The first call waits, then goes unanswered; the second waits, then is made."""

        def __init__(self, inner: Any) -> None:
            self.inner = inner

        async def charge(self, request: ChargeRequest) -> Any:
            n = len(asked)
            asked.append(request.reference)
            if n < 2:
                entered[n].set()
                await go[n].wait()
                if n == 0:
                    raise PartnerError("wallet_unavailable")
            return await self.inner.charge(request)

    charges.providers = lambda name: Held(lookup(name))
    first = asyncio.create_task(charges.charge_pending())
    await asyncio.wait_for(entered[0].wait(), 10)
    await pg.execute("UPDATE charge_claims SET claimed_at = now() - interval '301 seconds'")
    second = asyncio.create_task(charges.charge_pending())
    await asyncio.wait_for(entered[1].wait(), 10)  # control: the other worker took the claim over
    go[0].set()
    assert await first == 1
    assert not second.done()  # control: its call is still under way

    assert (await statuses(pg))[journey_id] == ("charging", None)
    assert await charges.charge_pending() == 0  # a third worker finds it claimed
    go[1].set()
    assert await second == 1
    assert asked == [journey_id, journey_id]
    assert await statuses(pg) == {journey_id: ("charged", charges_of(gateway)[journey_id][1])}
    assert await pg.fetchval("SELECT count(*) FROM charge_claims") == 0


async def test_a_claim_committed_after_a_workers_snapshot_is_not_taken_over(
    make_api: AppFactory, clock: MovableClock, gateway: FakeGateway, pg: asyncpg.Connection
) -> None:
    """A worker's claim statement found the journey unclaimed in its snapshot and locked it; a
    claim of another's commits meanwhile: the insert's conflict check sees it, and only a stale
    claim is taken over, so the worker claims nothing."""
    api = await app_on(make_api, gateway)
    _, (journey_id,) = await rider_rides(api, clock, "late-snapshot", 1)
    charges = api.client.server.app[SERVICES].transit.charges
    other = pg.transaction()
    await other.start()
    await pg.execute("INSERT INTO charge_claims (journey_id) VALUES ($1)", journey_id)
    mine = await pg.fetchval("SELECT pg_backend_pid()")

    async def claim() -> list[journeys_q.ChargeJob]:
        async with charges.db.transaction() as conn:
            return await journeys_q.claim_charges(conn, 10, stale_seconds=300, hold_seconds=0)

    worker = asyncio.create_task(claim())
    async with charges.db.acquire() as watcher:
        for _ in range(500):  # control: the worker's insert waits on the other claim, uncommitted
            waiting = await watcher.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))", mine
            )
            if waiting:
                break
            await asyncio.sleep(0.01)
    assert waiting == 1 and not worker.done()
    claimed_at = await pg.fetchval("SELECT claimed_at FROM charge_claims")
    await other.commit()

    assert await worker == []
    assert await pg.fetchval("SELECT claimed_at FROM charge_claims") == claimed_at


async def test_pricing_leaves_a_claimed_journey_as_it_is(
    make_api: AppFactory, clock: MovableClock, gateway: FakeGateway, pg: asyncpg.Connection
) -> None:
    """set_prices skips a journey the charging job holds a claim on (0056: the claim does not
    write the journey, whose row still says pending): its charge is being sent as claimed."""
    api = await app_on(make_api, gateway)
    _, (claimed, free) = await rider_rides(api, clock, "priced-again", 2)
    await pg.execute("INSERT INTO charge_claims (journey_id) VALUES ($1)", claimed)
    before = {r["id"]: r["fare_amount"] for r in await pg.fetch("SELECT id, fare_amount FROM journeys")}
    prices = [
        journeys_q.Price(j, 1, "CNY", "test", 1, "HKD", Decimal(1), "test", False) for j in (claimed, free)
    ]
    await journeys_q.set_prices(pg, prices)
    after = {r["id"]: r["fare_amount"] for r in await pg.fetch("SELECT id, fare_amount FROM journeys")}
    assert after == {claimed: before[claimed], free: 1}
