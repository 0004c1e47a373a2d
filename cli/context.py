"""Shared by the commands: loading config with one clear error, opening the database."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bayaffairs.config import Config, ConfigError, load_config
from bayaffairs.db.database import Database


class CommandError(Exception):
    """A failure to report in one line, with exit status `status`."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def config_or_exit() -> Config:
    try:
        return load_config()
    except ConfigError as exc:
        print(f"bayaffairs: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


@asynccontextmanager
async def database(config: Config) -> AsyncIterator[Database]:
    db = Database(config.settings.database)
    try:
        await db.start()
    except OSError as exc:
        raise CommandError(f"cannot reach PostgreSQL ({exc})") from exc
    try:
        yield db
    finally:
        await db.stop()
