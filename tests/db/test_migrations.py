"""The migration runner: numbered plain-SQL files, applied once each, under an advisory lock.

Every test runs against its own throwaway database (see conftest.py).
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bayaffairs.db.migrate import (
    ADVISORY_LOCK_ID,
    DatabaseNewerThanCode,
    Migration,
    MigrationError,
    SqlFunction,
    current_version,
    discover,
    discover_functions,
    migrate,
    stale_functions,
)

SPINE_TABLES = {"users", "user_identities", "credentials", "documents", "consents", "idempotency_keys"}


async def tables(conn: asyncpg.Connection) -> set[str]:
    rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return {r["tablename"] for r in rows}


async def recorded(conn: asyncpg.Connection) -> list[tuple[Any, ...]]:
    rows = await conn.fetch("SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY 1")
    return [tuple(r) for r in rows]


def write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(exist_ok=True)
    for name, sql in files.items():
        (directory / name).write_text(sql, encoding="utf-8")
    return directory


# Applying


async def test_fresh_database_gets_every_migration_and_its_tables(conn: asyncpg.Connection) -> None:
    migrations = discover()

    def named(statement: str) -> set[str]:
        return {n for m in migrations for n in re.findall(rf"^{statement} (\w+)", m.sql, flags=re.MULTILINE)}

    created = named("CREATE TABLE") - named("DROP TABLE")  # a later migration may drop a table

    applied = await migrate(conn)

    assert applied == [m.version for m in migrations]
    assert await tables(conn) == {"schema_migrations", "schema_functions", *created}
    assert created >= SPINE_TABLES
    assert [row[:3] for row in await recorded(conn)] == [(m.version, m.name, m.checksum) for m in migrations]
    assert await current_version(conn) == migrations[-1].version


async def test_second_run_applies_nothing(conn: asyncpg.Connection) -> None:
    await migrate(conn)
    before = await recorded(conn)

    applied = await migrate(conn)

    assert applied == []
    assert await recorded(conn) == before


async def test_two_connections_migrating_at_once_both_succeed_and_record_each_version_once(
    empty_database: str,
) -> None:
    first, second = await asyncpg.connect(empty_database), await asyncpg.connect(empty_database)
    try:
        results = await asyncio.gather(migrate(first), migrate(second))
        counts = await first.fetch("SELECT version, count(*) AS n FROM schema_migrations GROUP BY version")
    finally:
        await first.close()
        await second.close()

    versions = [m.version for m in discover()]
    assert sorted(results) == [[], versions]
    assert sorted((r["version"], r["n"]) for r in counts) == [(v, 1) for v in versions]


async def test_migrate_waits_while_another_session_holds_the_migration_lock(
    empty_database: str, conn: asyncpg.Connection
) -> None:
    other = await asyncpg.connect(empty_database)
    await conn.execute("SELECT pg_advisory_lock($1)", ADVISORY_LOCK_ID)
    try:
        task = asyncio.create_task(migrate(other))
        for _ in range(200):
            waiting = await conn.fetchval(
                """
                SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
                WHERE l.locktype = 'advisory' AND NOT l.granted AND a.datname = current_database()
                """
            )
            if waiting or task.done():
                break
            await asyncio.sleep(0.01)
        assert not task.done()
        assert waiting == 1
        assert "users" not in await tables(conn)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", ADVISORY_LOCK_ID)
        applied = await task
        await other.close()

    assert applied == [m.version for m in discover()]


async def test_without_the_lock_two_concurrent_runners_collide(empty_database: str) -> None:
    """Negative control for the two tests above: the race the advisory lock prevents is real.

    Two runners that each read schema_migrations, find the migration pending, then apply it and
    record it (what `migrate` does, minus the lock) collide: the second one fails. The barrier
    makes both read before either applies, so the collision happens on every run.
    """
    migration = discover()[0]
    setup = await asyncpg.connect(empty_database)
    await setup.execute(
        "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, "
        "checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
    )
    await setup.close()
    both_have_read = asyncio.Barrier(2)

    async def unlocked_runner() -> None:
        conn = await asyncpg.connect(empty_database)
        try:
            applied = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
            await both_have_read.wait()
            if migration.version not in applied:
                async with conn.transaction():
                    await conn.execute(migration.sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                        migration.version,
                        migration.name,
                        migration.checksum,
                    )
        finally:
            await conn.close()

    outcomes = await asyncio.gather(unlocked_runner(), unlocked_runner(), return_exceptions=True)

    failures = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(failures) == 1, outcomes
    assert isinstance(failures[0], asyncpg.PostgresError)


# Refusing


async def test_database_newer_than_the_code_is_refused_and_left_unchanged(conn: asyncpg.Connection) -> None:
    shipped = discover()
    await migrate(conn, shipped)
    pending = Migration(len(shipped) + 1, "pending_marker", "CREATE TABLE pending_marker (x integer);")
    await conn.execute(
        "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, 'from_the_future', 'x')",
        len(shipped) + 2,
    )
    before = (await tables(conn), await recorded(conn))

    with pytest.raises(DatabaseNewerThanCode):
        await migrate(conn, [*shipped, pending])

    assert (await tables(conn), await recorded(conn)) == before


async def test_migration_changed_after_it_was_applied_is_refused(conn: asyncpg.Connection) -> None:
    shipped = discover()
    await migrate(conn, shipped)
    first = shipped[0]
    edited = Migration(first.version, first.name, first.sql + "\n-- an edit after release\n")

    with pytest.raises(MigrationError, match="changed after it was applied"):
        await migrate(conn, [edited, *shipped[1:]])


async def test_refused_migration_releases_the_lock(empty_database: str, conn: asyncpg.Connection) -> None:
    await migrate(conn)
    await conn.execute("INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, 'x', 'x')")
    with pytest.raises(DatabaseNewerThanCode):
        await migrate(conn)

    other = await asyncpg.connect(empty_database)
    try:
        assert await other.fetchval("SELECT pg_try_advisory_lock($1)", ADVISORY_LOCK_ID)
    finally:
        await other.close()


# Discovering files


def test_discover_reads_numbered_files_in_order(tmp_path: Path) -> None:
    directory = write(tmp_path, {"0002_second.sql": "SELECT 2;", "0001_first.sql": "SELECT 1;"})

    found = discover(directory)

    assert [(m.version, m.name, m.sql) for m in found] == [
        (1, "first", "SELECT 1;"),
        (2, "second", "SELECT 2;"),
    ]


def test_discover_refuses_a_gap_in_numbering(tmp_path: Path) -> None:
    directory = write(tmp_path, {"0001_first.sql": "SELECT 1;", "0003_third.sql": "SELECT 3;"})

    with pytest.raises(MigrationError, match="without gaps"):
        discover(directory)


@pytest.mark.parametrize("name", ["1_first.sql", "0001-first.sql", "0001_First.sql", "0001_.sql"])
def test_discover_refuses_a_badly_named_file(tmp_path: Path, name: str) -> None:
    directory = write(tmp_path, {name: "SELECT 1;"})

    with pytest.raises(MigrationError, match=re.escape(name)):
        discover(directory)


# Migrations outside a transaction

CONCURRENT_INDEX = "CREATE INDEX CONCURRENTLY things_x ON things (x);\n"


async def test_no_transaction_marker_lets_create_index_concurrently_run(
    tmp_path: Path, conn: asyncpg.Connection
) -> None:
    directory = write(
        tmp_path,
        {
            "0001_things.sql": "CREATE TABLE things (x integer);\n",
            "0002_things_index.sql": "-- bayaffairs: no-transaction\n" + CONCURRENT_INDEX,
        },
    )

    applied = await migrate(conn, discover(directory))

    assert applied == [1, 2]
    assert await conn.fetchval("SELECT to_regclass('things_x') IS NOT NULL")


async def test_create_index_concurrently_without_the_marker_fails(
    tmp_path: Path, conn: asyncpg.Connection
) -> None:
    directory = write(
        tmp_path,
        {"0001_things.sql": "CREATE TABLE things (x integer);\n", "0002_things_index.sql": CONCURRENT_INDEX},
    )

    with pytest.raises(asyncpg.ActiveSQLTransactionError):
        await migrate(conn, discover(directory))

    assert [row[0] for row in await recorded(conn)] == [1]


# Repeatable function files (db/functions/)

THINGS = "CREATE TABLE things (x integer);\n"


def answer(value: int) -> str:
    return (
        "CREATE OR REPLACE FUNCTION the_answer() RETURNS integer LANGUAGE plpgsql AS "
        f"$$ BEGIN RETURN {value}; END; $$;\n"
    )


async def functions_recorded(conn: asyncpg.Connection) -> list[tuple[Any, ...]]:
    return [
        tuple(r)
        for r in await conn.fetch("SELECT name, checksum, applied_at FROM schema_functions ORDER BY 1")
    ]


async def test_shipped_function_files_are_applied_after_the_migrations_and_recorded(
    conn: asyncpg.Connection,
) -> None:
    shipped = discover_functions()
    assert "record_scans" in [f.name for f in shipped]

    await migrate(conn)

    assert [row[:2] for row in await functions_recorded(conn)] == sorted(
        (f.name, f.checksum) for f in shipped
    )
    source = await conn.fetchval("SELECT prosrc FROM pg_proc WHERE proname = 'record_scans'")
    text = next(f.sql for f in shipped if f.name == "record_scans")
    assert source in text  # the body the database runs is the function file's
    assert await stale_functions(conn) == []


async def test_an_unchanged_function_file_is_not_applied_again(conn: asyncpg.Connection) -> None:
    migrations = [Migration(1, "things", THINGS)]
    await migrate(conn, migrations, functions=[SqlFunction("the_answer", answer(42))])
    before = await functions_recorded(conn)
    applied: list[object] = []

    await migrate(
        conn, migrations, progress=applied.append, functions=[SqlFunction("the_answer", answer(42))]
    )

    assert applied == []
    assert await functions_recorded(conn) == before


async def test_a_changed_function_file_is_applied_on_the_next_migrate(conn: asyncpg.Connection) -> None:
    migrations = [Migration(1, "things", THINGS)]
    await migrate(conn, migrations, functions=[SqlFunction("the_answer", answer(42))])
    assert await conn.fetchval("SELECT the_answer()") == 42
    changed = SqlFunction("the_answer", answer(43))
    assert await stale_functions(conn, [changed]) == ["the_answer"]
    applied: list[object] = []

    versions = await migrate(conn, migrations, progress=applied.append, functions=[changed])

    assert versions == []
    assert applied == [changed]
    assert await conn.fetchval("SELECT the_answer()") == 43
    assert [row[:2] for row in await functions_recorded(conn)] == [("the_answer", changed.checksum)]
    assert await stale_functions(conn, [changed]) == []


async def test_a_broken_function_file_fails_migrate_and_leaves_the_function_as_it_was(
    empty_database: str, conn: asyncpg.Connection
) -> None:
    migrations = [Migration(1, "things", THINGS)]
    good = SqlFunction("the_answer", answer(42))
    await migrate(conn, migrations, functions=[good])
    before = await functions_recorded(conn)
    broken = SqlFunction("the_answer", answer(43).replace("RETURN 43;", "RETURN 43 +;"))
    later = SqlFunction("zz_later", answer(7).replace("the_answer", "zz_later"))

    with pytest.raises(MigrationError, match=r"the_answer\.sql failed and was rolled back"):
        await migrate(
            conn,
            [*migrations, Migration(2, "more", "CREATE TABLE more (y integer);\n")],
            functions=[broken, later],
        )

    assert await conn.fetchval("SELECT the_answer()") == 42
    assert await functions_recorded(conn) == before  # neither the broken file nor the one after it
    assert await conn.fetchval("SELECT to_regproc('zz_later')") is None
    assert [row[0] for row in await recorded(conn)] == [1, 2]  # the numbered migrations stay applied
    other = await asyncpg.connect(empty_database)
    try:
        assert await other.fetchval("SELECT pg_try_advisory_lock($1)", ADVISORY_LOCK_ID)
    finally:
        await other.close()

    await migrate(
        conn,
        [*migrations, Migration(2, "more", "CREATE TABLE more (y integer);\n")],
        functions=[SqlFunction("the_answer", answer(43)), later],
    )  # fixed: applied
    assert await conn.fetchval("SELECT the_answer() + zz_later()") == 50


def test_discover_functions_reads_files_in_name_order(tmp_path: Path) -> None:
    directory = write(tmp_path, {"b_second.sql": "SELECT 2;", "a_first.sql": "SELECT 1;"})

    assert [(f.name, f.sql) for f in discover_functions(directory)] == [
        ("a_first", "SELECT 1;"),
        ("b_second", "SELECT 2;"),
    ]


@pytest.mark.parametrize("name", ["Record_scans.sql", "record-scans.sql", ".sql"])
def test_discover_functions_refuses_a_badly_named_file(tmp_path: Path, name: str) -> None:
    directory = write(tmp_path, {name: "SELECT 1;"})

    with pytest.raises(MigrationError, match=re.escape(name)):
        discover_functions(directory)
