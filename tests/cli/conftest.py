"""Running the `bayaffairs` command on the test database and Redis: in this interpreter (`cli`,
tests/commands.py), or as operators run it, in a subprocess (`cli_process`), for what only a
process shows."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Mapping

import pytest

from tests.commands import Result, run_in_process

__all__ = ["Cli", "Result", "run_in_a_process"]

Cli = Callable[..., Awaitable[Result]]


async def run_in_a_process(env: Mapping[str, str], *args: str) -> Result:
    """`python -m bayaffairs.cli.main ARGS` with exactly `env` as its environment."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bayaffairs.cli.main",
        *args,
        env=dict(env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return Result(process.returncode, stdout.decode(), stderr.decode())


@pytest.fixture
def cli(cli_env: dict[str, str]) -> Cli:
    """`await cli("credentials", "list")` runs `bayaffairs credentials list` in this interpreter,
    with `cli_env` (as it is at the call) for its environment."""

    async def run(*args: str) -> Result:
        return await run_in_process(cli_env, *args)

    return run


@pytest.fixture
def cli_process(cli_env: dict[str, str]) -> Cli:
    """`await cli_process("serve", ...)` runs `bayaffairs serve ...` in a subprocess."""

    async def run(*args: str) -> Result:
        return await run_in_a_process(cli_env, *args)

    return run
