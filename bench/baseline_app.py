"""The yardstick: a bare aiohttp app answering GET /json, served the way `bayaffairs serve` is.

Same event loop choice (uvloop when installed), same fork and listening socket per worker, no
access log, so that the ratio of the service to this app shows what our own stack costs.
Run as its own process: `python -m bench.baseline_app --port 8081 [--workers 1]`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import sys

from aiohttp import web


async def hello(request: web.Request) -> web.Response:
    return web.json_response({"message": "Hello, World!"})


def make_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/json", hello)
    return app


def choose_loop(wanted: str) -> str:
    """Install the event loop policy; 'auto' mirrors `bayaffairs serve` (uvloop if importable)."""
    if wanted == "asyncio":
        return "asyncio"
    try:
        import uvloop
    except ImportError:
        if wanted == "uvloop":
            raise SystemExit("baseline_app: --loop uvloop asked for, but uvloop is not installed") from None
        return "asyncio"
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return "uvloop"


def serve_on(sock: socket.socket, wanted_loop: str) -> None:
    loop = choose_loop(wanted_loop)
    print(f"baseline_app pid {os.getpid()}: event loop {loop}", file=sys.stderr, flush=True)
    web.run_app(make_app(), sock=sock, access_log=None, print=None, handle_signals=True)


def _socket(host: str, port: int, *, listen: bool) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    if listen:
        sock.listen(1024)
    return sock


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.baseline_app", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--loop", choices=("auto", "uvloop", "asyncio"), default="auto")
    args = p.parse_args(argv)
    if args.workers == 1:
        serve_on(_socket(args.host, args.port, listen=True), args.loop)
        return
    # As `serve` (cli/serve.py): each worker listens on a socket of its own on the port
    # (SO_REUSEPORT), so the kernel spreads the connections; the parent holds the port.
    held = _socket(args.host, args.port, listen=False)
    port = held.getsockname()[1]
    children: list[int] = []
    for _ in range(args.workers):
        pid = os.fork()
        if pid == 0:
            try:
                held.close()
                serve_on(_socket(args.host, port, listen=True), args.loop)
            finally:
                os._exit(0)
        children.append(pid)

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for child in children:
        os.waitpid(child, 0)


if __name__ == "__main__":
    main()
