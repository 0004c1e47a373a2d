"""`bayaffairs migrate`: apply pending migrations (safe to run from several processes)."""

from __future__ import annotations

import argparse

from tqdm import tqdm

from bayaffairs.cli.context import CommandError, config_or_exit, database
from bayaffairs.db.database import redact
from bayaffairs.db.migrate import MigrationError, discover, migrate


async def run(args: argparse.Namespace) -> None:
    config = config_or_exit()
    migrations = discover()
    async with database(config) as db, db.acquire() as conn:
        with tqdm(total=len(migrations), desc="migrate", unit="file", disable=args.quiet) as bar:
            try:
                applied = await migrate(conn, migrations, progress=lambda m: bar.update(1))
            except MigrationError as exc:
                raise CommandError(str(exc), status=3) from exc
            bar.update(len(migrations) - bar.n)
    url = redact(config.settings.database.url)
    if applied:
        print(f"applied {len(applied)} migration(s) to {url}: {', '.join(f'{v:04d}' for v in applied)}")
    else:
        print(f"{url} is up to date (version {migrations[-1].version:04d})")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("migrate", help="apply pending database migrations")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)
