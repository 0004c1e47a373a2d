"""Running the real `bayaffairs` command in a subprocess, on the test database and Redis."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class Result:
    status: int
    stdout: str
    stderr: str


Cli = Callable[..., Awaitable[Result]]


@pytest.fixture
def cli(cli_env: dict[str, str]) -> Cli:
    """`await cli("credentials", "list")` runs `bayaffairs credentials list`."""

    async def run(*args: str) -> Result:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bayaffairs.cli.main",
            *args,
            env=cli_env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
        assert process.returncode is not None
        return Result(process.returncode, stdout.decode(), stderr.decode())

    return run
