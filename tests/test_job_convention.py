"""Test apps run no periodic job unless their test asks: the jobs' timers fire on the wall clock,
so a job the app ran by itself (a charge, a drain, a sweep) would land between two steps of a
test wherever the machine's load put it, and the test's own step would then find its work done.
A served app runs every job (tests/cli/test_workers.py watches them across two servers)."""

from __future__ import annotations

import asyncio

import asyncpg
from aiohttp.test_utils import TestClient, TestServer

from bayaffairs.config import Config
from bayaffairs.handlers.app import create_app
from bayaffairs.handlers.keys import JOBS, SERVICES
from bayaffairs.wiring.jobs import Job, periodic
from bayaffairs.wiring.services import Services
from tests.conftest import AppFactory
from tests.support import Api, MovableClock
from tests.transit.conftest import Ride

BUS = "shenzhen_bus"


async def bus_journey(api: Api, clock: MovableClock) -> tuple[Ride, str]:
    """A rider's flat-fare bus ride: priced at the tap-in, its charge pending."""
    services = api.client.server.app[SERVICES]
    await services.transit.issuer_keys.rotate("ride_codes")
    rider = await api.sign_in("timer-rider")
    assert (await rider.put("/v1/me/wallet", {"currency": "HKD", "provider": "demo"}))[0] == 200
    ride = Ride(api, rider, services, clock)
    answer = await ride.scan(
        await ride.gate(BUS), (await ride.code("shenzhen"))["payload"], ride.stops(BUS)[0]
    )
    assert answer["decision"] == "open"
    return ride, answer["journey_id"]


def quick_charge_job(services: Services) -> list[Job]:
    """The app's charge job on a 10-ms timer: a test as slow as a loaded machine makes one
    (longer than the job's 5 s), without waiting 5 s."""
    return [Job("charge riders for journeys", 0.01, services.transit.charges.charge_pending)]


async def charge_status(pg: asyncpg.Connection, journey_id: str) -> str:
    return str(await pg.fetchval("SELECT charge_status FROM journeys WHERE id = $1", journey_id))


async def test_an_app_charging_on_its_own_timer_takes_the_charge_from_the_tests_step(
    make_api: AppFactory, clock: MovableClock, pg: asyncpg.Connection
) -> None:
    """The control: the race of the settlement tests, made certain. The app's job charges the
    journey between two steps of the test, and the test's own charge step finds nothing."""
    api = await make_api(jobs=quick_charge_job)
    assert api.client.server.app[JOBS] == ("charge riders for journeys",)
    ride, journey_id = await bus_journey(api, clock)
    for _ in range(1000):  # 10 s at most
        if await charge_status(pg, journey_id) == "charged":
            break
        await asyncio.sleep(0.01)
    assert await charge_status(pg, journey_id) == "charged"  # no step of the test charged it
    assert await ride.services.transit.charges.charge_pending() == 0


async def test_a_test_app_runs_no_periodic_job_so_the_tests_step_does_the_charge(
    make_api: AppFactory, clock: MovableClock, pg: asyncpg.Connection
) -> None:
    api = await make_api()
    assert api.client.server.app[JOBS] == ()
    ride, journey_id = await bus_journey(api, clock)
    await asyncio.sleep(0.2)  # twenty periods of the control's timer
    assert await charge_status(pg, journey_id) == "pending"
    assert await ride.services.transit.charges.charge_pending() == 1
    assert await charge_status(pg, journey_id) == "charged"


async def test_a_served_app_runs_every_periodic_job(config: Config, clock: MovableClock) -> None:
    app = create_app(config, clock=clock)  # as `bayaffairs serve` builds it
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        assert app[JOBS] == tuple(job.name for job in periodic(app[SERVICES]))
        assert "charge riders for journeys" in app[JOBS]
    finally:
        await client.close()
