"""Shared by the commands: loading config with one clear error, and the composition root
(`bayaffairs.wiring.root`) with an unreachable database reported in one line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from datetime import datetime
from typing import TypeVar

from bayaffairs.clock import Clock
from bayaffairs.config import Config, ConfigError, load_config
from bayaffairs.db.database import Database
from bayaffairs.wiring import root
from bayaffairs.wiring.root import Wiring

_T = TypeVar("_T")


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


def wired(config: Config, *, clock: Clock | None = None) -> AbstractAsyncContextManager[Wiring]:
    """Everything a command may use: database, Redis, adapters and the services on them."""
    return _reachable(root.assembled(config, clock=clock))


def database(config: Config) -> AbstractAsyncContextManager[Database]:
    """The database alone (migrations, the schema check)."""
    return _reachable(root.database(config))


@asynccontextmanager
async def _reachable(resources: AbstractAsyncContextManager[_T]) -> AsyncIterator[_T]:
    """`resources`, with a database that cannot be reached at the start reported in one line."""
    async with AsyncExitStack() as stack:
        try:
            entered = await stack.enter_async_context(resources)
        except OSError as exc:
            raise CommandError(f"cannot reach PostgreSQL ({exc})") from exc
        yield entered


def instant(text: str) -> datetime:
    """An argparse type: an RFC 3339 time with its offset."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an RFC 3339 time: {text!r}") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no offset (say +08:00 or Z)")
    return value
