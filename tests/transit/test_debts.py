"""Declined ride charges are debts, not bans: retried with backoff, payable by the rider, and the
account denied only while one is unpaid (a `remove` in the deny-list delta lets the rider in)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import pytest

from bayaffairs.handlers.keys import SERVICES
from tests.conftest import AppFactory
from tests.support import MovableClock, test_config
from tests.transit.conftest import Ride

pytestmark = pytest.mark.at_two_instants

BUS = "shenzhen_bus"


@pytest.fixture
async def broke(make_api: AppFactory, clock: MovableClock) -> Ride:
    """A rider whose wallet declines every ride charge (until the test says otherwise)."""
    api = await make_api(test_config({"adapters": {"demo": {"decline_over": 1}}}))
    services = api.client.server.app[SERVICES]
    await services.transit.issuer_keys.rotate("ride_codes")
    rider = await api.sign_in("broke")
    await rider.put("/v1/me/wallet", {"currency": "CNY", "provider": "demo"})
    return Ride(api, rider, services, clock)


def wallet(ride: Ride) -> Any:
    return ride.services.transit.charges.providers("demo")


def money_comes_in(ride: Ride, monkeypatch: pytest.MonkeyPatch) -> None:
    """The wallet accepts charges from now on (its settings are shared: undone after the test)."""
    monkeypatch.setitem(wallet(ride).settings, "decline_over", None)


def debt_charges(ride: Ride) -> list[str]:
    """The references of the debt charges the demo wallet was asked (declined or not)."""
    return [ref for ref in wallet(ride)._charges if ":debt:" in ref]


async def declined_ride(ride: Ride) -> dict[str, Any]:
    gate = await ride.gate(BUS)
    answer = await ride.scan(gate, (await ride.code("shenzhen"))["payload"], ride.stops(BUS)[0])
    assert answer["decision"] == "open"
    assert await ride.services.transit.charges.charge_pending() == 1
    status, page = await ride.rider.get("/v1/me/debts")
    assert status == 200
    [debt] = page["items"]
    assert debt["journey_id"] == answer["journey_id"]
    return dict(debt)


async def deny_actions(ride: Ride) -> list[str]:
    gate = await ride.gate(BUS)
    _, delta = await gate.get("/v1/gate/denylist?since=0")
    return [c["action"] for c in delta["changes"] if c["kind"] == "account"]


async def test_a_declined_charge_is_a_debt_that_denies_the_account_until_the_rider_pays(
    broke: Ride, monkeypatch: pytest.MonkeyPatch
) -> None:
    debt = await declined_ride(broke)
    assert (debt["status"], debt["tries"], debt["pay"]) == (
        "unpaid",
        1,
        f"POST /v1/me/debts/{debt['id']}/payment",
    )
    assert datetime.fromisoformat(debt["next_retry_at"]) == broke.clock.now() + timedelta(hours=12)
    status, body = await broke.rider.post("/v1/ride-codes", {"city": "shenzhen"})
    assert (status, body["error"]["code"], body["error"]["details"]["debts"]) == (403, "account_denied", 1)
    assert await deny_actions(broke) == ["add"]
    money_comes_in(broke, monkeypatch)
    status, paid = await broke.rider.post(f"/v1/me/debts/{debt['id']}/payment")
    assert (status, paid["status"], paid["tries"]) == (200, "paid", 2)
    assert await deny_actions(broke) == ["add", "remove"]
    assert (await broke.rider.post("/v1/ride-codes", {"city": "shenzhen"}))[0] == 201
    [journey] = (await broke.rider.get("/v1/journeys"))[1]["items"]
    assert journey["charge_status"] == "charged"
    assert (await broke.rider.get("/v1/me/debts"))[1]["items"][0]["status"] == "paid"


async def test_a_payment_declined_again_leaves_the_debt_and_its_retries(broke: Ride) -> None:
    debt = await declined_ride(broke)
    status, body = await broke.rider.post(f"/v1/me/debts/{debt['id']}/payment")
    assert (status, body["error"]["code"]) == (409, "payment_declined")
    [after] = (await broke.rider.get("/v1/me/debts"))[1]["items"]
    assert (after["status"], after["tries"], after["next_retry_at"]) == ("unpaid", 2, debt["next_retry_at"])
    assert await deny_actions(broke) == ["add"]


async def test_automatic_retries_are_three_tries_over_three_days(broke: Ride) -> None:
    debts = broke.services.transit.debts
    debt = await declined_ride(broke)
    declined_at = broke.clock.now()
    assert await debts.retry_due() == 0  # not due yet
    for hours in (12, 36, 72):
        broke.clock.set(declined_at + timedelta(hours=hours) - timedelta(minutes=1))
        assert await debts.retry_due() == 0  # negative control: a minute early
        broke.clock.set(declined_at + timedelta(hours=hours))
        assert await debts.retry_due() == 1
    [after] = (await broke.rider.get("/v1/me/debts"))[1]["items"]
    assert (after["id"], after["status"], after["tries"], after["next_retry_at"]) == (
        debt["id"],
        "unpaid",
        4,
        None,
    )
    broke.clock.set(declined_at + timedelta(days=30))
    assert await debts.retry_due() == 0  # none left: the rider pays
    assert debt_charges(broke) == [f"{debt['journey_id']}:debt:{n}" for n in (2, 3, 4)]


async def test_a_later_automatic_retry_that_goes_through_lets_the_rider_in_again(
    broke: Ride, monkeypatch: pytest.MonkeyPatch
) -> None:
    debt = await declined_ride(broke)
    money_comes_in(broke, monkeypatch)
    broke.clock.advance(hours=12)
    assert await broke.services.transit.debts.retry_due() == 1
    [after] = (await broke.rider.get("/v1/me/debts"))[1]["items"]
    assert (after["id"], after["status"]) == (debt["id"], "paid")
    assert await deny_actions(broke) == ["add", "remove"]
    rider = await broke.api.sign_in("broke")  # a fresh session, 12 hours on
    assert (await rider.post("/v1/ride-codes", {"city": "shenzhen"}))[0] == 201


async def test_the_rider_paying_while_a_retry_runs_is_charged_once(
    broke: Ride, pg: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    debt = await declined_ride(broke)
    money_comes_in(broke, monkeypatch)
    broke.clock.advance(hours=12)
    rider = await broke.api.sign_in("broke")
    pays = [rider.post(f"/v1/me/debts/{debt['id']}/payment") for _ in range(3)]
    outcomes = await asyncio.gather(broke.services.transit.debts.retry_due(), *pays)
    answers = outcomes[1:]
    assert {status for status, _ in answers} <= {200, 409}
    assert len(debt_charges(broke)) == 1  # one try took the debt; the others found it taken or paid
    assert await pg.fetchval("SELECT status FROM ride_debts") == "paid"
    # negative control: asked again once paid, it answers as it is, charging nothing more
    status, again = await rider.post(f"/v1/me/debts/{debt['id']}/payment")
    assert (status, again["status"]) == (200, "paid") and len(debt_charges(broke)) == 1
    assert await deny_actions(broke) == ["add", "remove"]


async def test_a_rider_sees_and_pays_only_their_own_debts(broke: Ride) -> None:
    debt = await declined_ride(broke)
    stranger = await broke.api.sign_in("stranger")
    assert (await stranger.get("/v1/me/debts"))[1]["items"] == []
    status, body = await stranger.post(f"/v1/me/debts/{debt['id']}/payment")
    assert (status, body["error"]["code"]) == (404, "debt_not_found")


async def test_a_deny_for_another_reason_is_not_lifted_by_paying(
    broke: Ride, pg: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    debt = await declined_ride(broke)
    account = (await pg.fetchval("SELECT account_token FROM ride_accounts")).hex()
    await broke.services.transit.deny_list.change("account", account, "add", "fraud review")
    money_comes_in(broke, monkeypatch)
    assert (await broke.rider.post(f"/v1/me/debts/{debt['id']}/payment"))[0] == 200
    assert await deny_actions(broke) == ["add", "add"]  # the operator's own deny stands


async def test_a_tap_an_offline_gate_let_through_after_the_debt_is_charged_not_free(
    broke: Ride, pg: asyncpg.Connection
) -> None:
    """A gate that had not synced the deny list let the debtor in: the ride is owed like any other
    (another debt), not refused after the fact, which made it free. Online gates still refuse."""
    code = (await broke.code("shenzhen"))["payload"]  # on the phone before the debt
    spare = (await broke.code("shenzhen"))["payload"]
    debt = await declined_ride(broke)
    broke.clock.advance(seconds=5)
    gate = await broke.gate(BUS)
    tap = {
        "tap_id": "stale-1",
        "payload": code,
        "gate_id": "bus-7",
        "station": broke.stops(BUS)[1],
        "direction": "in",
        "scanned_at": broke.clock.now().isoformat(),
    }
    status, result = await gate.post("/v1/gate/taps:batch", {"taps": [tap]})
    assert (status, result["accepted"]) == (200, 1)
    await broke.services.transit.uploads.drain(settle_seconds=0)
    assert await pg.fetchval("SELECT state FROM tap_uploads WHERE tap_id = 'stale-1'") == "recorded"
    assert await pg.fetchval("SELECT count(*) FROM journeys") == 2
    await broke.services.transit.charges.charge_pending()
    status, page = await broke.rider.get("/v1/me/debts")
    assert [d["id"] for d in page["items"]][-1] == debt["id"] and len(page["items"]) == 2
    # Control: an online gate asks, and refuses the debtor.
    online = await broke.scan(gate, spare, broke.stops(BUS)[2])
    assert (online["decision"], online["reason"]) == ("deny", "denied_account")
