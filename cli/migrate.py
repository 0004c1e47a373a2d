"""`bayaffairs migrate`: apply pending migrations, then the function files that changed (safe to
run from several processes)."""

from __future__ import annotations

import argparse

from tqdm import tqdm

from bayaffairs.cli.context import CommandError, config_or_exit, database
from bayaffairs.db.database import redact
from bayaffairs.db.migrate import (
    Migration,
    MigrationError,
    SqlFunction,
    discover,
    discover_functions,
    migrate,
)


async def run(args: argparse.Namespace) -> None:
    config = config_or_exit(args.environ)
    migrations, functions = discover(), discover_functions()
    replaced: list[str] = []

    def done(bar: tqdm, item: Migration | SqlFunction) -> None:
        bar.update(1)
        if isinstance(item, SqlFunction):
            replaced.append(item.name)

    async with database(config) as db, db.acquire() as conn:
        total = len(migrations) + len(functions)
        with tqdm(total=total, desc="migrate", unit="file", disable=args.quiet) as bar:
            try:
                applied = await migrate(
                    conn, migrations, progress=lambda m: done(bar, m), functions=functions
                )
            except MigrationError as exc:
                raise CommandError(str(exc), status=3) from exc
            bar.update(total - bar.n)
    url = redact(config.settings.database.url)
    if applied:
        print(f"applied {len(applied)} migration(s) to {url}: {', '.join(f'{v:04d}' for v in applied)}")
    if replaced:
        print(f"applied {len(replaced)} function file(s) to {url}: {', '.join(replaced)}")
    if not applied and not replaced:
        print(f"{url} is up to date (version {migrations[-1].version:04d})")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("migrate", help="apply pending database migrations")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)
