"""Shared by the commands: loading config with one clear error, and the composition root
(`bayaffairs.wiring.root`) with an unreachable database reported in one line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from datetime import datetime
from typing import TypeVar

import asyncpg

from bayaffairs.adapters import registry
from bayaffairs.clock import Clock
from bayaffairs.config import Config, ConfigError, load_config
from bayaffairs.config.production import Report, check
from bayaffairs.db.database import Database
from bayaffairs.wiring import root
from bayaffairs.wiring.root import Wiring

_T = TypeVar("_T")


class CommandError(Exception):
    """A failure to report in one line, with exit status `status`."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def config_or_exit(environ: Mapping[str, str], *, announce: bool = True) -> Config:
    """The configuration under the command's environment (`args.environ`), or one line and exit
    status 2. `announce`: say on stderr which profile it is (stdout stays the command's own
    output, JSON included)."""
    try:
        config = load_config(environ=environ)
    except ConfigError as exc:
        print(f"bayaffairs: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    if announce:
        print(f"bayaffairs: {profile_said(config, environ)}", file=sys.stderr, flush=True)
    return config


def profile_said(config: Config, environ: Mapping[str, str]) -> str:
    """Which profile, and why: "profile demo (BAYAFFAIRS_PROFILE=demo)"."""
    named = environ.get("BAYAFFAIRS_PROFILE")
    why = f"BAYAFFAIRS_PROFILE={named}" if named else "BAYAFFAIRS_PROFILE is not set"
    return f"profile {config.settings.profile_name} ({why})"


def production_report(config: Config) -> Report:
    """What production refuses in `config` (nothing outside production)."""
    demo = {m.id for m in registry.discover().values() if m.demo_only}
    return check(config, demo)


def refuse_unsafe(config: Config, report: Report | None = None) -> None:
    """In production, stop with one line per demo secret, fallback or demo adapter (status 2)."""
    report = report or production_report(config)
    if not report.problems:
        return
    for problem in report.problems:
        print(f"bayaffairs: production refuses {problem}", file=sys.stderr)
    print(
        f"bayaffairs: {len(report.problems)} problem(s) above: production does not start with demo"
        " secrets, fallbacks or demo adapters (the demo runs with BAYAFFAIRS_PROFILE=demo, as"
        " scripts/run does)",
        file=sys.stderr,
    )
    raise SystemExit(2)


def wired(config: Config, *, clock: Clock | None = None) -> AbstractAsyncContextManager[Wiring]:
    """Everything a command may use: database, Redis, adapters and the services on them.

    In production, what `serve` refuses stops every command on the wiring too, before it touches
    anything: a job run from cron, `keys rotate` (which would seal a new private signing key with
    a key committed to the repository) and `credentials` run with the same secrets."""
    refuse_unsafe(config)
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
        except asyncpg.PostgresError as exc:  # reached, but refused: no such database, a password
            raise CommandError(f"PostgreSQL refused the connection: {exc}") from exc
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
