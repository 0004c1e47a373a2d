"""A private PostgreSQL and a private Redis that a test may stop and start.

Both run from the system binaries (Debian's /usr/lib/postgresql/<version>/bin, found as
scripts/lib/setup.sh finds them, and redis-server on the PATH), on spare ports of 127.0.0.1,
with their data in a temporary directory removed afterwards. They are this test run's own:
nothing here ever touches the machine's servers on 5432 and 6379. PostgreSQL runs as user
postgres when the tests run as root (it refuses root), as setup.sh does.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import asyncpg
import redis.asyncio as aioredis

PG_ROOT = Path("/usr/lib/postgresql")
MACHINE_PORTS = frozenset({5432, 6379})


def find_pg_bindir() -> Path | None:
    """The highest installed PostgreSQL version's bin directory with initdb and pg_ctl
    (setup.sh's `_find_pg_bindir` without a cluster to match), or None."""
    found: list[tuple[tuple[int, ...], Path]] = []
    for bindir in PG_ROOT.glob("*/bin"):
        version = bindir.parent.name
        if re.fullmatch(r"\d+(\.\d+)*", version) and all(
            os.access(bindir / tool, os.X_OK) for tool in ("initdb", "pg_ctl", "postgres")
        ):
            found.append((tuple(int(p) for p in version.split(".")), bindir))
    return max(found)[1] if found else None


def missing_binaries() -> str | None:
    """Why the private servers cannot start here (None: they can)."""
    if find_pg_bindir() is None:
        return f"no PostgreSQL server binaries (initdb, pg_ctl) in {PG_ROOT}/*/bin"
    if shutil.which("redis-server") is None:
        return "no redis-server on the PATH"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no user postgres to run PostgreSQL as"
    return None


def spare_port() -> int:
    """A free TCP port of 127.0.0.1 below Linux's ephemeral range (32768-60999 by default), so
    that a passing client connection is unlikely to take it between now and the server's bind."""
    for _ in range(200):
        port = random.randint(20000, 32000)
        if port in MACHINE_PORTS:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port found in 20000-32000")


def _run(argv: list[str], *, as_postgres: bool) -> list[str]:
    if as_postgres and os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


async def _exec(argv: list[str], *, as_postgres: bool = False, timeout: float = 60) -> tuple[int, str]:
    """Run a command without blocking the event loop (the app under test keeps answering)."""
    process = await asyncio.create_subprocess_exec(
        *_run(argv, as_postgres=as_postgres),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd="/",
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout)
    return process.returncode or 0, output.decode(errors="replace")


class PrivatePostgres:
    """A PostgreSQL cluster made by initdb in a temporary directory, listening on 127.0.0.1:port
    only (no Unix socket), user postgres with trust authentication."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        # As root, under /tmp: user postgres must reach it, which a TMPDIR of root's may not allow.
        where = "/tmp" if os.geteuid() == 0 else None  # noqa: S108
        self.root = Path(tempfile.mkdtemp(prefix="bya-faults-pg-", dir=where))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.port = spare_port()
        assert self.port not in MACHINE_PORTS

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create(self) -> None:
        """initdb, and the settings of a throwaway test server."""
        if os.geteuid() == 0:
            postgres = pwd.getpwnam("postgres")
            os.chown(self.root, postgres.pw_uid, postgres.pw_gid)
        subprocess.run(
            _run(
                [
                    str(self.bindir / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-sync",
                ],
                as_postgres=True,
            ),
            check=True,
            capture_output=True,
            cwd="/",
            timeout=120,
        )
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                "\n# tests/faults/servers.py: a private, throwaway server\n"
                "listen_addresses = '127.0.0.1'\n"
                f"port = {self.port}\n"
                "unix_socket_directories = ''\n"
                "max_connections = 60\n"
                "fsync = off\n"
                "full_page_writes = off\n"
                "shared_buffers = 32MB\n"
            )

    def _pg_ctl(self, *args: str) -> list[str]:
        return [str(self.bindir / "pg_ctl"), "-D", str(self.data), *args]

    async def start(self) -> None:
        """Start and wait until it accepts connections (pg_ctl -w)."""
        code, output = await _exec(
            self._pg_ctl("-l", str(self.log), "-w", "-t", "60", "start"),
            as_postgres=True,
            timeout=90,
        )
        if code != 0:
            raise RuntimeError(f"private PostgreSQL did not start: {output}\n{self.log_tail()}")

    async def stop(self, mode: str = "fast") -> None:
        """Stop it (`fast`: sessions are cut, the server shuts down cleanly; `immediate`: as
        a crash, recovered from the WAL at the next start)."""
        code, output = await _exec(
            self._pg_ctl("-m", mode, "-w", "-t", "60", "stop"),
            as_postgres=True,
            timeout=90,
        )
        if code != 0:
            raise RuntimeError(f"private PostgreSQL did not stop: {output}\n{self.log_tail()}")

    async def accepts(self) -> bool:
        try:
            conn = await asyncpg.connect(self.url(), timeout=2)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
            return False
        await conn.close()
        return True

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def remove(self) -> None:
        """Stop it if it runs (at once) and delete its files."""
        if self.running():
            subprocess.run(
                _run(self._pg_ctl("-m", "immediate", "-w", "stop"), as_postgres=True),
                capture_output=True,
                cwd="/",
                timeout=60,
                check=False,
            )
        shutil.rmtree(self.root, ignore_errors=True)


class PrivateRedis:
    """A redis-server child process on 127.0.0.1:port, keeping nothing on disk."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="bya-faults-redis-"))
        self.port = spare_port()
        assert self.port not in MACHINE_PORTS
        self.process: asyncio.subprocess.Process | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    async def start(self) -> None:
        """Start it and wait until it answers PING."""
        assert self.process is None, "already running"
        self.process = await asyncio.create_subprocess_exec(
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.root),
            "--logfile",
            str(self.root / "redis.log"),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while not await self.accepts():
            if self.process.returncode is not None or time.monotonic() > deadline:
                raise RuntimeError(f"private Redis did not start: {self.log_tail()}")
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        """SIGTERM (it exits at once: it saves nothing) and wait for the process to end."""
        process, self.process = self.process, None
        if process is None or process.returncode is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 15)
        except TimeoutError:
            process.kill()
            await process.wait()

    async def accepts(self) -> bool:
        client = aioredis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=1, socket_timeout=1)
        try:
            return bool(await client.ping())
        except (OSError, aioredis.RedisError):
            return False
        finally:
            await client.aclose()

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join((self.root / "redis.log").read_text(errors="replace").splitlines()[-lines:])
        return ""

    async def remove(self) -> None:
        await self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
