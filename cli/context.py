"""Shared by the commands: loading config with one clear error, opening the database."""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

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


def instant(text: str) -> datetime:
    """An argparse type: an RFC 3339 time with its offset."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an RFC 3339 time: {text!r}") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no offset (say +08:00 or Z)")
    return value
