"""The in-process runner (tests/commands.py) answers as a process does: the same status, stdout
and stderr, the environment it is given and no other, and a traceback for what a command lets
through."""

from __future__ import annotations

import argparse
import asyncio
import os
import threading
from collections.abc import Mapping

import pytest

from bayaffairs.cli import keys
from bayaffairs.cli.main import main
from tests import commands
from tests.cli.conftest import Cli, run_in_a_process
from tests.commands import run_in_process

MARKER = "BAYAFFAIRS_ONLY_THE_COMMANDS"


@pytest.mark.parametrize(
    "argv",
    [("check-config",), ("seed",), ("keys", "generate", "--id", "not-alnum"), ("no-such-command",)],
)
async def test_a_command_answers_in_process_as_in_a_process(
    cli_env: dict[str, str], argv: tuple[str, ...]
) -> None:
    in_process = await run_in_process(cli_env, *argv)
    in_a_process = await run_in_a_process(cli_env, *argv)

    assert in_process == in_a_process


async def test_the_command_sees_only_the_environment_it_is_given(cli_env: dict[str, str]) -> None:
    before = dict(os.environ)
    env = {k: v for k, v in cli_env.items() if k != "BAYAFFAIRS_PROFILE"}

    result = await run_in_process(env, "credentials", "list", "--json")

    assert "profile production (BAYAFFAIRS_PROFILE is not set)" in result.stderr
    assert dict(os.environ) == before


async def read_while_a_command_runs(env: Mapping[str, str], monkeypatch: pytest.MonkeyPatch) -> str | None:
    """MARKER in os.environ, read by the test's loop while an in-process command is under way (as
    a test's app serving that command would read its environment)."""
    started, read = threading.Event(), threading.Event()

    def held(args: argparse.Namespace) -> None:
        started.set()
        assert read.wait(5)

    monkeypatch.setattr(keys, "generate", held)
    command = asyncio.create_task(run_in_process(env, "keys", "generate"))
    assert await asyncio.to_thread(started.wait, 5)
    seen = os.environ.get(MARKER)
    read.set()
    assert (await command).status == 0
    return seen


def in_os_environ(argv: list[str], env: Mapping[str, str]) -> None:
    """The command with its environment put in os.environ for its run (what the runner did)."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        main(argv)
    finally:
        os.environ.clear()
        os.environ.update(saved)


async def test_the_commands_environment_is_not_the_processs_meanwhile(
    cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {**cli_env, MARKER: "yes"}
    # Negative control: a command given its environment in os.environ shows it to the whole
    # process while it runs.
    with monkeypatch.context() as m:
        m.setattr(commands, "main", in_os_environ)
        assert await read_while_a_command_runs(env, m) == "yes"

    assert await read_while_a_command_runs(env, monkeypatch) is None


async def test_an_exception_a_command_lets_through_is_status_1_and_a_traceback(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(args: argparse.Namespace) -> None:
        print("half an answer")
        raise RuntimeError("not a CommandError")

    monkeypatch.setattr(keys, "generate", broken)

    result = await cli("keys", "generate")

    assert result.status == 1
    assert result.stdout == "half an answer\n"
    assert "Traceback" in result.stderr and "RuntimeError: not a CommandError" in result.stderr


async def test_serve_is_refused_in_process(cli: Cli) -> None:
    with pytest.raises(AssertionError, match="in a process"):
        await cli("serve", "--port", "1")
