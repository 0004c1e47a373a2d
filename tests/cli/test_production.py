"""In production (no profile named) `serve` and `check-config` refuse demo secrets, fallbacks and
demo adapters, one line per problem; `seed --demo` runs only in the demo and test profiles; every
command that reads config says which profile it uses.

`run` runs a command in this interpreter (tests/commands.py); `serve`, and one error of a command
on the wiring, run in a real process, which shows that nothing else reaches stderr on the way out."""

from __future__ import annotations

import re
from collections.abc import Mapping

import asyncpg

from bayaffairs.config.settings import parse_key
from tests.cli.conftest import Cli, Result, run_in_a_process
from tests.commands import run_in_process as run
from tests.config.test_production import PRODUCTION_ENV
from tests.support import START


def production(cli_env: Mapping[str, str], **extra: str) -> dict[str, str]:
    env = {k: v for k, v in cli_env.items() if k != "BAYAFFAIRS_PROFILE"}
    return {**env, **extra}


PROBLEM_KEYS = (
    "config/app.toml: secrets.documents_keys: ",
    "config/app.toml: secrets.signing_keys: ",
    "config/app.toml: adapters.wechat.app_id: ",
    "config/app.toml: adapters.wechat.app_secret: ",
)


def assert_refused(result: Result) -> None:
    assert result.status == 2, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    for key in PROBLEM_KEYS:
        assert sum(key in line for line in lines) == 1, (key, result.stderr)


async def test_check_config_in_production_refuses_the_shipped_demo_secrets(cli_env: dict[str, str]) -> None:
    result = await run(production(cli_env), "check-config")

    assert_refused(result)
    assert "profile: production" in result.stdout
    assert "BAYAFFAIRS_PROFILE=demo" in result.stdout + result.stderr  # what scripts/run serves
    assert "secrets.documents_keys" in result.stdout  # what it checked
    assert result.stdout.splitlines()[-1] != "ok"


async def test_check_config_in_production_passes_with_real_secrets(cli_env: dict[str, str]) -> None:
    result = await run(production(cli_env, **PRODUCTION_ENV), "check-config")

    assert result.status == 0, result
    assert result.stdout.splitlines()[-1] == "ok"
    for what in ("secrets.documents_keys", "secrets.signing_keys", "demo adapters", "fallback"):
        assert what in result.stdout


async def test_serve_in_production_refuses_before_touching_the_database(cli_env: dict[str, str]) -> None:
    env = production(cli_env, BAYAFFAIRS_DATABASE_URL="postgresql://nobody@127.0.0.1:1/nothing")

    result = await run_in_a_process(env, "serve", "--port", "1")

    assert_refused(result)


async def test_seed_demo_refuses_outside_the_demo_and_test_profiles(
    cli_env: dict[str, str], pg: asyncpg.Connection
) -> None:
    result = await run(production(cli_env, **PRODUCTION_ENV), "seed", "--demo", "--quiet")

    assert result.status == 2, result
    assert "demo" in result.stderr and "production" in result.stderr
    assert "Traceback" not in result.stderr
    assert await pg.fetchval("SELECT count(*) FROM credentials") == 0


async def test_commands_that_read_config_say_which_profile_they_use(
    cli: Cli, cli_env: dict[str, str], pg: asyncpg.Connection
) -> None:
    listed = await cli("credentials", "list")
    migrated = await cli("migrate", "--quiet")
    in_production = await run(production(cli_env, **PRODUCTION_ENV), "credentials", "list", "--json")

    assert (listed.status, migrated.status, in_production.status) == (0, 0, 0), (listed, migrated)
    assert "profile test (BAYAFFAIRS_PROFILE=test)" in listed.stderr
    assert "profile test (BAYAFFAIRS_PROFILE=test)" in migrated.stderr
    assert "profile production (BAYAFFAIRS_PROFILE is not set)" in in_production.stderr
    assert in_production.stdout.strip().startswith("[")  # stdout stays the JSON alone


async def test_keys_generate_makes_a_fresh_key_in_the_secrets_format(cli_env: dict[str, str]) -> None:
    env = production(cli_env)  # needs no configuration, database or secret
    first = await run(env, "keys", "generate")
    second = await run(env, "keys", "generate", "--id", "doc2027")
    bad = await run(env, "keys", "generate", "--id", "not-alnum")

    assert (first.status, second.status) == (0, 0), (first, second)
    key_id, material = parse_key(first.stdout.strip())
    assert re.fullmatch(r"k\d{8}", key_id)
    other_id, other = parse_key(second.stdout.strip())
    assert other_id == "doc2027" and other != material and len(other) == 32
    assert bad.status == 2 and "Traceback" not in bad.stderr and "--id" in bad.stderr


async def test_every_command_on_the_wiring_refuses_demo_secrets_in_production(
    cli_env: dict[str, str],
) -> None:
    """Not `serve` alone: a job run from cron (retention, settlement), `keys rotate` (which would
    seal a new private signing key with a key committed to the repository) and `credentials`
    stop before touching the database, as `serve` does."""
    env = production(cli_env, BAYAFFAIRS_DATABASE_URL="postgresql://nobody@127.0.0.1:1/nothing")
    commands = (
        ("keys", "rotate", "ride_codes"),
        ("keys", "list"),
        ("credentials", "list"),
        ("retention", "--dry-run"),
        ("settlement", "close", "--date", START.date().isoformat()),
    )
    for command in commands:
        result = await run(env, *command)
        assert_refused(result)
        assert "cannot reach PostgreSQL" not in result.stderr, (command, result)


async def test_a_database_that_refuses_the_connection_is_one_line_not_a_traceback(
    cli_env: dict[str, str],
) -> None:
    """Reachable, but no such database (or a wrong password): the operator reads one line."""
    url = cli_env["BAYAFFAIRS_DATABASE_URL"].rsplit("/", 1)[0] + "/bayaffairs_no_such_database"
    result = await run_in_a_process({**cli_env, "BAYAFFAIRS_DATABASE_URL": url}, "credentials", "list")

    assert result.status == 1, result
    assert "Traceback" not in result.stderr, result.stderr
    assert "bayaffairs_no_such_database" in result.stderr and "PostgreSQL" in result.stderr, result.stderr
