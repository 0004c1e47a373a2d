"""Numbered plain-SQL migrations (db/migrations/NNNN_name.sql) applied under an advisory lock.

Each file runs in its own transaction and is recorded in `schema_migrations` with its checksum.
Two processes migrating at once are safe: the second waits for the lock, then finds nothing to do.
The runner refuses a database that is newer than the code, or whose applied files were changed.
A file whose first line is `-- bayaffairs: no-transaction` runs outside a transaction (for
CREATE INDEX CONCURRENTLY); keep such a file to one statement.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bayaffairs.db.database import PgConnection

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
ADVISORY_LOCK_ID = 0x6261_7961_6666  # "bayaff"
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
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


async def migrate(
    conn: PgConnection,
    migrations: list[Migration] | None = None,
    progress: Callable[[Migration], object] | None = None,
) -> list[int]:
    """Apply what is pending; return the versions applied by this call."""
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


async def current_version(conn: PgConnection) -> int:
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return 0
    return await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_migrations")
