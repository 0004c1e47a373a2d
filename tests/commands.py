"""The `bayaffairs` command run in the test interpreter: `bayaffairs.cli.main.main(argv, env)`
with its own environment, stdout, stderr and exit status, as a subprocess would give them, without the
~1.5 s of CPU a fresh interpreter spends importing before the command starts.

The command calls `asyncio.run`, which cannot run inside the test's event loop: it runs in a
worker thread while the test's loop goes on (serving the test's app, which a command may call).
What only a process shows stays tested with a real one: the `bayaffairs` entry point
(tests/cli/test_entry.py), `serve` with its workers and signals (tests/cli/test_serve.py,
tests/cli/test_workers.py) and one-line errors on a real exit (tests/cli/test_production.py,
and tests/cli/test_one_line_errors.py's simulations that fail on the network: an aiohttp
session left open is said on stderr on the way out, which no command in a thread has).
"""

from __future__ import annotations

import asyncio
import contextvars
import io
import logging
import sys
import threading
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TextIO

from bayaffairs.cli.main import main

TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class Result:
    status: int
    stdout: str
    stderr: str


async def run_in_process(env: Mapping[str, str], *args: str) -> Result:
    """`bayaffairs ARGS` with exactly `env` as its environment: handed to main(), which gives it
    to the command, so os.environ stays the test process's meanwhile (the test's app, serving the
    command, goes on reading its own). A library that reads os.environ itself would see the
    process's: none of the commands' does (asyncpg's PG* variables are not used: the URLs are
    whole)."""
    if args[:1] == ("serve",):
        raise AssertionError("`serve` forks workers and installs signal handlers: run it in a process")
    call = asyncio.to_thread(_run, dict(env), list(args))
    return await asyncio.wait_for(call, timeout=TIMEOUT_SECONDS)


# The command's own stdout and stderr, set in the worker thread's context (and so in the tasks of
# the loop it runs): what the test's loop writes meanwhile goes where it went before.
_OUTPUT: contextvars.ContextVar[tuple[io.StringIO, io.StringIO] | None] = contextvars.ContextVar(
    "command_output", default=None
)
# sys.stdout and sys.stderr belong to the process: one command at a time installs the routing.
_ONE_AT_A_TIME = threading.Lock()


def _run(env: dict[str, str], argv: list[str]) -> Result:
    out, err = io.StringIO(), io.StringIO()
    _OUTPUT.set((out, err))
    with _ONE_AT_A_TIME, _routed_output(), _warnings_logged_to(err):
        status = _exit_status(argv, env)
    return Result(status, out.getvalue(), err.getvalue())


def _exit_status(argv: list[str], env: dict[str, str]) -> int:
    """What the interpreter would exit with: SystemExit's code, 1 and the traceback on stderr for
    an exception the command let through."""
    try:
        main(argv, env)
    except SystemExit as exc:
        if exc.code is None:
            return 0
        if isinstance(exc.code, int):
            return exc.code
        print(exc.code, file=sys.stderr)
        return 1
    except BaseException:  # noqa: BLE001 - the interpreter reports any of them the same way
        traceback.print_exc(file=sys.stderr)
        return 1
    return 0


class _Routed(io.TextIOBase):
    """sys.stdout or sys.stderr: the running command's buffer in its context, else `other`."""

    def __init__(self, which: int, other: TextIO) -> None:
        self.which = which
        self.other = other

    def _target(self) -> TextIO:
        buffers = _OUTPUT.get()
        return buffers[self.which] if buffers is not None else self.other

    def write(self, text: str) -> int:
        return self._target().write(text)

    def flush(self) -> None:
        self._target().flush()

    def writable(self) -> bool:
        return True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.other, name)


@contextmanager
def _routed_output() -> Iterator[None]:
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Routed(0, saved[0]), _Routed(1, saved[1])  # type: ignore[assignment]
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


@contextmanager
def _warnings_logged_to(err: io.StringIO) -> Iterator[None]:
    """A command configures no logging: in its own process a warning it logs reaches stderr
    (logging's last resort). Here the root logger has pytest's handlers, so say it as well."""
    handler = logging.StreamHandler(err)
    handler.setLevel(logging.WARNING)
    handler.addFilter(lambda record: _OUTPUT.get() is not None)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
