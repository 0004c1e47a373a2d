"""`bayaffairs serve`: the web service, in one process or several sharing one socket."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import sys

from aiohttp import web

from bayaffairs.cli.context import CommandError, config_or_exit, database, refuse_unsafe
from bayaffairs.config import Config
from bayaffairs.db.migrate import current_version, discover
from bayaffairs.handlers.app import create_app
from bayaffairs.handlers.logs import setup_logging


def _use_uvloop() -> None:
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


async def _check_schema(config: Config) -> None:
    async with database(config) as db, db.acquire() as conn:
        version = await current_version(conn)
    latest = discover()[-1].version
    if version != latest:
        raise CommandError(
            f"the database is at migration {version:04d}, this code expects {latest:04d}: "
            "run `bayaffairs migrate`",
            status=3,
        )


def _serve_on(config: Config, sock: socket.socket) -> None:
    _use_uvloop()
    web.run_app(
        create_app(config),
        sock=sock,
        access_log=None,
        print=None,
        shutdown_timeout=config.settings.server.shutdown_timeout,
        handle_signals=True,
    )


def run(args: argparse.Namespace) -> None:
    config = config_or_exit()
    refuse_unsafe(config)  # production: no demo secrets, fallbacks or demo adapters
    server = config.settings.server
    host = args.host or server.host
    port = args.port or server.port
    workers = args.workers or server.workers
    setup_logging(config.settings.logging.level, config.settings.logging.json)
    asyncio.run(_check_schema(config))
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    print(f"bayaffairs serving on http://{host}:{port} with {workers} worker(s)", file=sys.stderr, flush=True)
    if workers == 1:
        _serve_on(config, sock)
        return
    children: list[int] = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            try:
                _serve_on(config, sock)
            finally:
                os._exit(0)
        children.append(pid)

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    status = 0
    for child in children:
        _, code = os.waitpid(child, 0)
        status = status or os.waitstatus_to_exitcode(code)
    sys.exit(status)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the web service")
    p.add_argument("--host", help="default from config [server] host")
    p.add_argument("--port", type=int, help="default from config [server] port (8080)")
    p.add_argument("--workers", type=int, help="processes sharing the socket (default 1)")
    p.set_defaults(run=run, sync=True)
