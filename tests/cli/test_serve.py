"""`bayaffairs serve`: refuses an unmigrated database, serves with several workers, stops cleanly."""

from __future__ import annotations

import asyncio
import gc
import signal
import socket
import sys
import time
from pathlib import Path

import aiohttp
import asyncpg
import redis.asyncio as aioredis
from aiohttp import web

from bayaffairs.cli.serve import served_app
from bayaffairs.config import Config
from bayaffairs.handlers.app import create_app
from tests.cli.conftest import Cli


def child_pids(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_until_up(url: str, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(url) as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError(f"{url} did not come up")


async def test_serve_with_two_workers_answers_and_stops_on_sigterm(
    cli_env: dict[str, str], pg: asyncpg.Connection
) -> None:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bayaffairs.cli.main",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "2",
        env=cli_env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await wait_until_up(f"http://127.0.0.1:{port}/readyz")
        async with aiohttp.ClientSession() as session:
            request_ids = set()
            for _ in range(40):
                async with session.get(f"http://127.0.0.1:{port}/healthz") as resp:
                    assert resp.status == 200
                    request_ids.add(resp.headers.get("X-Request-Id"))
        assert len(request_ids) == 40  # every answer has its own request id
        children = child_pids(process.pid)
        assert len(children) == 2
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), timeout=20)
    assert process.returncode == 0


async def test_serve_refuses_a_database_behind_the_code(cli_process: Cli, pg: asyncpg.Connection) -> None:
    version = await pg.fetchval("SELECT max(version) FROM schema_migrations")
    row = await pg.fetchrow("SELECT * FROM schema_migrations WHERE version = $1", version)
    await pg.execute("DELETE FROM schema_migrations WHERE version = $1", version)
    try:
        result = await cli_process("serve", "--port", str(free_port()))
    finally:
        await pg.execute(
            "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)",
            row["version"],
            row["name"],
            row["checksum"],
            row["applied_at"],
        )
    assert result.status == 3
    assert "bayaffairs migrate" in result.stderr


async def test_serve_refuses_a_database_running_an_older_function_file(
    cli_process: Cli, pg: asyncpg.Connection
) -> None:
    row = await pg.fetchrow("SELECT name, checksum FROM schema_functions WHERE name = 'record_scans'")
    await pg.execute("UPDATE schema_functions SET checksum = 'older' WHERE name = 'record_scans'")
    try:
        result = await cli_process("serve", "--port", str(free_port()))
    finally:
        await pg.execute(
            "UPDATE schema_functions SET checksum = $1 WHERE name = 'record_scans'", row["checksum"]
        )
    assert result.status == 3
    assert "record_scans" in result.stderr
    assert "bayaffairs migrate" in result.stderr


async def test_a_server_process_freezes_its_startup_heap(
    config: Config, pg: asyncpg.Connection, redis_client: aioredis.Redis
) -> None:
    """A started server's objects are out of the collector's sight (a full collection walked
    them all, a pause of every request in flight); the app alone, as tests build it, is not."""
    gc.unfreeze()
    try:
        for build, frozen in ((create_app, False), (served_app, True)):
            runner = web.AppRunner(build(config))
            await runner.setup()
            try:
                assert (gc.get_freeze_count() > 0) is frozen, build.__name__
            finally:
                await runner.cleanup()
                gc.unfreeze()
    finally:
        gc.unfreeze()
