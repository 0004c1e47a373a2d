"""Numbered plain-SQL migrations (db/migrations/NNNN_name.sql) applied under an advisory lock,
then repeatable function files (db/functions/name.sql).

Each file runs in its own transaction and is recorded in `schema_migrations` with its checksum.
Two processes migrating at once are safe: the second waits for the lock, then finds nothing to do.
The runner refuses a database that is newer than the code, or whose applied files were changed.
A file whose first line is `-- bayaffairs: no-transaction` runs outside a transaction (for
CREATE INDEX CONCURRENTLY); keep such a file to one statement.

A function file holds `CREATE OR REPLACE FUNCTION ...` and is changed in place: after the
numbered migrations, under the same lock, each file (in name order) whose checksum differs from
the one recorded in `schema_functions` is run in its own transaction and its checksum recorded
there; an unchanged file is not run again. One that fails is rolled back (the database keeps the
definition it had) and stops the run with a MigrationError. Before function files existed, a
change to a function re-created it whole in a new numbered migration (record_scans() in 0005 to
0043): the numbered files keep those definitions, the function file puts the current one over them.

"Differs" cuts both ways: an older release running `migrate` puts its own older text back (a
rollback), while newer code still running would call it; README.md ("Rolling back") says what an
operator does. A database with a numbered migration the code does not know is refused first,
before any function file is run.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from bayaffairs.db.database import PgConnection

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
FUNCTIONS_DIR = Path(__file__).parent / "functions"
ADVISORY_LOCK_ID = 0x6261_7961_6666  # "bayaff"
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_FUNCTION_FILE = re.compile(r"^([a-z0-9_]+)\.sql$")
NO_TRANSACTION = "-- bayaffairs: no-transaction"


class MigrationError(Exception):
    pass


class DatabaseNewerThanCode(MigrationError):
    pass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    @property
    def transactional(self) -> bool:
        return not self.sql.lstrip().startswith(NO_TRANSACTION)


@dataclass(frozen=True)
class SqlFunction:
    """A repeatable function file: db/functions/<name>.sql."""

    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNNN_lower_snake.sql")
        migrations.append(Migration(int(match.group(1)), match.group(2), path.read_text(encoding="utf-8")))
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise MigrationError(f"migration numbers must run 1, 2, 3... without gaps; found {versions}")
    return migrations


def discover_functions(directory: Path = FUNCTIONS_DIR) -> list[SqlFunction]:
    """The function files in name order (the order they are applied in)."""
    functions = []
    for path in sorted(directory.glob("*.sql")):
        match = _FUNCTION_FILE.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: function files are named lower_snake.sql")
        functions.append(SqlFunction(match.group(1), path.read_text(encoding="utf-8")))
    return functions


async def migrate(
    conn: PgConnection,
    migrations: list[Migration] | None = None,
    progress: Callable[[Migration | SqlFunction], object] | None = None,
    functions: list[SqlFunction] | None = None,
) -> list[int]:
    """Apply what is pending, then the function files that changed; return the versions applied
    by this call (`progress` is told of each migration and each function file applied).

    `functions` left out means the shipped ones (db/functions/) when `migrations` is left out
    too, and none when a list of migrations is given (a list of one's own has its own functions).
    """
    if functions is None:
        functions = discover_functions() if migrations is None else []
    migrations = discover() if migrations is None else migrations
    await conn.execute("SELECT pg_advisory_lock($1)", ADVISORY_LOCK_ID)
    try:
        await conn.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version    integer PRIMARY KEY,
                name       text NOT NULL,
                checksum   text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """
        )
        applied = {
            r["version"]: r for r in await conn.fetch("SELECT version, name, checksum FROM schema_migrations")
        }
        known = {m.version: m for m in migrations}
        newest_code = max(known, default=0)
        newer = sorted(v for v in applied if v > newest_code)
        if newer:
            raise DatabaseNewerThanCode(
                f"the database has migration {newer[-1]} but this code knows only up to {newest_code}; "
                "run a newer release of bayaffairs"
            )
        for version, row in sorted(applied.items()):
            if version not in known:
                raise MigrationError(f"migration {version} was applied but its file is missing")
            if row["checksum"] != known[version].checksum:
                raise MigrationError(
                    f"migration {version:04d}_{row['name']}.sql changed after it was applied; "
                    "add a new migration instead of editing an applied one"
                )
        done: list[int] = []
        for migration in migrations:
            if migration.version in applied:
                continue
            if migration.transactional:
                async with conn.transaction():
                    await conn.execute(migration.sql)
                    await _record(conn, migration)
            else:
                await conn.execute(migration.sql)
                await _record(conn, migration)
            done.append(migration.version)
            if progress:
                progress(migration)
        await _apply_functions(conn, functions, progress)
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", ADVISORY_LOCK_ID)


async def _record(conn: PgConnection, migration: Migration) -> None:
    await conn.execute(
        "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
        migration.version,
        migration.name,
        migration.checksum,
    )


async def _apply_functions(
    conn: PgConnection,
    functions: list[SqlFunction],
    progress: Callable[[Migration | SqlFunction], object] | None,
) -> None:
    """Run the function files whose checksum is not the one recorded (the caller holds the lock)."""
    await conn.execute(
        """
        CREATE TABLE IF NOT EXISTS schema_functions (
            name       text PRIMARY KEY,
            checksum   text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    recorded = {
        r["name"]: r["checksum"] for r in await conn.fetch("SELECT name, checksum FROM schema_functions")
    }
    for function in functions:
        if recorded.get(function.name) == function.checksum:
            continue
        try:
            async with conn.transaction():
                await conn.execute(function.sql)
                await conn.execute(
                    """
                    INSERT INTO schema_functions (name, checksum) VALUES ($1, $2)
                    ON CONFLICT (name) DO UPDATE SET checksum = excluded.checksum, applied_at = now()
                    """,
                    function.name,
                    function.checksum,
                )
        except asyncpg.PostgresError as exc:
            raise MigrationError(
                f"function file {function.name}.sql failed and was rolled back "
                f"(the database keeps the definition it had): {exc}"
            ) from exc
        if progress:
            progress(function)


async def stale_functions(conn: PgConnection, functions: list[SqlFunction] | None = None) -> list[str]:
    """The function files (names) whose current text the database has not run."""
    functions = discover_functions() if functions is None else functions
    if not await conn.fetchval("SELECT to_regclass('schema_functions') IS NOT NULL"):
        return [f.name for f in functions]
    recorded = {
        r["name"]: r["checksum"] for r in await conn.fetch("SELECT name, checksum FROM schema_functions")
    }
    return [f.name for f in functions if recorded.get(f.name) != f.checksum]


async def current_version(conn: PgConnection) -> int:
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return 0
    return await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_migrations")
