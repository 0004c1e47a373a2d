"""What a charge costs the journeys table (issue 15, throughput): the charging job runs in the
worker that answers gates, and every version of a journeys row it writes is written to each of
the table's indexes. A charge writes its journey once, with its outcome (charged or failed, which
finance must see: db/queries/settlements.py reads the row's updated_at); the claim and its lease
are kept in charge_claims (0056). A charge the provider did not answer is put back behind the
others due, which writes its journey once more, as before.

The job runs here on one connection, inside one transaction, so pg_stat_xact_user_tables counts
exactly the journeys rows it updated (the cumulative statistics are flushed by each backend in
its own time, and the job's pool has several)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import cast

import asyncpg

from bayaffairs.adapters.protocols import ChargeRequest, PaymentOutcome, PaymentProvider
from bayaffairs.db.queries import journeys as journeys_q
from bayaffairs.errors import PartnerError
from bayaffairs.storage import Connection
from tests.transit.conftest import Ride

BUS = "shenzhen_bus"


class OneConnection:
    """A Database of one connection, in the caller's transaction: each transaction() of the job is
    a savepoint of it."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[Connection]:
        yield self.conn

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        async with self.conn.transaction():
            yield self.conn


async def journeys_updated(conn: asyncpg.Connection) -> int:
    """Rows of journeys this transaction updated so far."""
    value = await conn.fetchval(
        "SELECT coalesce(sum(n_tup_upd), 0) FROM pg_stat_xact_user_tables WHERE relname = 'journeys'"
    )
    return int(value)


async def test_charging_n_journeys_updates_the_journeys_table_at_most_n_times(
    ride: Ride, pg: asyncpg.Connection
) -> None:
    journeys = await ride.rides_in(BUS, 4)
    charges = ride.services.transit.charges
    charges.db = OneConnection(pg)
    async with pg.transaction():
        assert await journeys_updated(pg) == 0
        assert await charges.charge_pending() == 4
        updated = await journeys_updated(pg)
    statuses = await pg.fetch("SELECT charge_status FROM journeys WHERE id = ANY($1::text[])", journeys)
    assert [r["charge_status"] for r in statuses] == ["charged"] * 4
    assert updated <= 4


async def test_an_unanswered_charge_is_asked_again_behind_the_others_due_for_one_write(
    ride: Ride, pg: asyncpg.Connection
) -> None:
    """Put back, its journey moves behind the others due (one write, as before 0056), so that a
    provider that does not answer is not asked first again by every run while the rest wait."""
    first, second = await ride.rides_in(BUS, 2)
    charges = ride.services.transit.charges
    charges.batch = charges.rounds = 1
    lookup = charges.providers
    asked: list[str] = []

    class AnswersAfterTheFirst:
        def __init__(self, inner: PaymentProvider) -> None:
            self.inner = inner

        async def charge(self, request: ChargeRequest) -> PaymentOutcome:
            asked.append(request.reference)
            if len(asked) == 1:
                raise PartnerError("wallet_unavailable")
            return await self.inner.charge(request)

    def providers(name: str) -> PaymentProvider | None:
        inner = lookup(name)
        return None if inner is None else cast(PaymentProvider, AnswersAfterTheFirst(inner))

    charges.providers = providers
    charges.db = OneConnection(pg)
    async with pg.transaction():
        assert await charges.charge_pending() == 1
        updated = await journeys_updated(pg)
    assert (asked, updated) == ([first], 1)
    read = await journeys_q.get(pg, first)
    assert read is not None and read.charge_status == "pending"

    assert await charges.charge_pending() == 1
    assert await charges.charge_pending() == 1
    assert asked == [first, second, first]
    rows = await pg.fetch("SELECT charge_status FROM journeys WHERE id = ANY($1::text[])", [first, second])
    assert [r["charge_status"] for r in rows] == ["charged"] * 2
