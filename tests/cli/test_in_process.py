"""The in-process runner (tests/commands.py) answers as a process does: the same status, stdout
and stderr, the environment it is given and no other, and a traceback for what a command lets
through."""

from __future__ import annotations

import argparse
import os

import pytest

from bayaffairs.cli import keys
from tests.cli.conftest import Cli, run_in_a_process
from tests.commands import run_in_process


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
