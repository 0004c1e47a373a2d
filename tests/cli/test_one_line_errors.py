"""What goes wrong on the command line is said in one line, with a status, never a traceback.

Most commands here run in this interpreter (tests/commands.py). The simulations that fail on the
network run in a real process (`cli_process`): what a command leaves behind is said on its way
out (an aiohttp session left open: "Unclosed client session" on stderr after the one line), and
in this interpreter that comes, if ever, when the test is over."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import asyncpg
import pytest
import qrcode

from tests.cli.conftest import Cli, Result
from tests.support import Api


def assert_one_line(result: Result, *words: str, status: int = 2) -> None:
    assert result.status == status, result
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("bayaffairs: ") and "profile" not in line]
    assert len(errors) == 1 and errors == lines[-1:], result.stderr
    for word in words:
        assert word in errors[0], result.stderr


def qr_image(tmp_path: Path, text: str = "NOT-A-RIDE-CODE") -> Path:
    path = tmp_path / "code.png"
    qrcode.make(text).save(path)
    return path


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def simulate(image: Path, api: str, token: str = "bya.crd_nobody." + "x" * 43) -> tuple[str, ...]:
    return ("gate", "simulate", str(image), "--api", api, "--token", token, "--station", "futian")


# gate simulate


@pytest.mark.parametrize("online", [False, True], ids=["offline", "online"])
async def test_simulate_with_the_api_unreachable_says_so_in_one_line(
    cli_process: Cli, tmp_path: Path, online: bool
) -> None:
    url = f"http://127.0.0.1:{closed_port()}"

    result = await cli_process(*simulate(qr_image(tmp_path), url), *(["--online"] if online else []))

    assert_one_line(result, "cannot reach the service", url)


@pytest.mark.parametrize("online", [False, True], ids=["offline", "online"])
async def test_simulate_with_a_bad_token_says_the_service_refused_it(
    cli_process: Cli, api: Api, tmp_path: Path, online: bool
) -> None:
    url = str(api.client.make_url("")).rstrip("/")

    result = await cli_process(*simulate(qr_image(tmp_path), url), *(["--online"] if online else []))

    assert_one_line(result, "refused the gate token", "401")


async def test_simulate_with_an_svg_file_names_the_file_and_the_formats(cli: Cli, tmp_path: Path) -> None:
    svg = tmp_path / "code.svg"
    svg.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>')

    result = await cli(*simulate(svg, "http://127.0.0.1:1"))

    assert_one_line(result, str(svg), "PNG or JPEG")


async def test_simulate_with_a_missing_file_names_it(cli: Cli, tmp_path: Path) -> None:
    result = await cli(*simulate(tmp_path / "nothing.png", "http://127.0.0.1:1"))

    assert_one_line(result, "nothing.png")


# credentials issue --ttl-days


@pytest.mark.parametrize("days", ["-5", "0"])
async def test_issue_refuses_a_lifetime_below_one_day(cli: Cli, pg: asyncpg.Connection, days: str) -> None:
    result = await cli("credentials", "issue", "counter", "hengqin_gasc", "--ttl-days", days)

    assert_one_line(result, "ttl_days", "at least 1")
    assert await pg.fetchval("SELECT count(*) FROM credentials") == 0


async def test_issue_refuses_a_lifetime_beyond_the_kinds_limit(cli: Cli, pg: asyncpg.Connection) -> None:
    refused = await cli("credentials", "issue", "admin", "all", "--ttl-days", "31")
    allowed = await cli("credentials", "issue", "admin", "all", "--ttl-days", "30", "--json")

    assert_one_line(refused, "ttl_days", "at most 30", "admin")
    assert allowed.status == 0, allowed
    assert json.loads(allowed.stdout)["kind"] == "admin"
    assert await pg.fetchval("SELECT count(*) FROM credentials") == 1
