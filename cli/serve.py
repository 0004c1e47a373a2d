"""`bayaffairs serve`: the web service, in one process or several sharing one port.

With `--workers N` (N > 1) this process is a supervisor: it forks N workers on the port, forks
a new one within a second when one dies (its live metrics removed, its counters kept), and on
SIGTERM or SIGINT passes the signal on and waits. Each worker drains: it stops accepting, lets
requests in flight finish (and with them their group commits), stops its jobs, scan writers and
QR renderer, and exits. Whatever is still running `[server] shutdown_seconds` after the signal is
killed, so the whole server is gone by then. /metrics reports every worker (prometheus_client's
multiprocess mode, in a directory of this run's own, removed at exit).

On Linux each worker listens on a socket of its own bound to the port (SO_REUSEPORT), so the
kernel spreads new connections over the workers. On one shared socket, whichever worker woke first
accepted a whole burst of connections (64 of 64 in the counter-day bench): clients keep their
connections, so one core served them while the other idled. The supervisor holds the port bound
(not listening) for the workers' whole life, after checking that nothing else holds it: a second
server started on the port is refused as before, not mixed in.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import traceback

from aiohttp import web

from bayaffairs.cli.context import CommandError, config_or_exit, database, refuse_unsafe
from bayaffairs.config import Config
from bayaffairs.db.migrate import current_version, discover, stale_functions
from bayaffairs.handlers.app import create_app
from bayaffairs.handlers.logs import setup_logging
from bayaffairs.handlers.metrics import forget_process, use_multiprocess

log = logging.getLogger("bayaffairs.serve")

RESTART_PAUSE = 0.5  # a worker that keeps dying at start is forked again at most twice a second
DRAIN_SHARE = 0.6  # of shutdown_seconds, for requests in flight; the rest is for the cleanup
KILL_MARGIN = 0.3  # processes still running this long before shutdown_seconds are killed
STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


def _use_uvloop() -> None:
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


async def _check_schema(config: Config) -> None:
    async with database(config) as db, db.acquire() as conn:
        version = await current_version(conn)
        stale = await stale_functions(conn)
    latest = discover()[-1].version
    if version != latest:
        raise CommandError(
            f"the database is at migration {version:04d}, this code expects {latest:04d}: "
            "run `bayaffairs migrate`",
            status=3,
        )
    if stale:
        raise CommandError(
            f"the database runs an older text of db/functions/ {', '.join(stale)}: run `bayaffairs migrate`",
            status=3,
        )


def drain_seconds(shutdown_seconds: float) -> float:
    """How long requests in flight may take after SIGTERM: 60 % of the time to stop, the rest is
    for the cleanup after it (jobs, renderer, pools, on a machine that may be busy)."""
    return max(0.5, shutdown_seconds * DRAIN_SHARE)


def served_app(config: Config) -> web.Application:
    """The app as a server process runs it: `create_app`, its heap frozen once started."""
    app = create_app(config)
    app.on_startup.append(_freeze_heap)  # after the app's own startup (its services, jobs)
    return app


async def _freeze_heap(_app: web.Application) -> None:
    """Startup's objects (configuration, the network's precomputed fares, schemas: ~190,000
    objects the collector tracks) live as long as the process: moved out of the collector's
    sight, a full collection no longer walks them all. Measured under the scan bench, each full
    collection was a 20-65 ms pause of every request in flight in that worker, about every
    3,500 requests, which is where a p99 is made. Not in create_app: a test process builds many
    apps, and a frozen object is never collected."""
    gc.collect()
    gc.freeze()


def _serve_on(config: Config, sock: socket.socket) -> None:
    """Serve until the first SIGTERM or SIGINT, then drain. Later signals (a supervisor passing
    one on, a process group signalled as a whole, Ctrl-C twice) do not cut the drain short."""
    _use_uvloop()
    loop = asyncio.new_event_loop()
    stopping = False

    def stop() -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            _exit_by(max(0.5, config.settings.server.shutdown_seconds - 2 * KILL_MARGIN))
            raise web.GracefulExit()

    def listen() -> None:
        for signum in STOP_SIGNALS:
            loop.add_signal_handler(signum, stop)

    # Only once the loop runs: uvloop hears a signal that came before that only when another one
    # comes (its self-pipe opens when the loop starts), so a stop meeting a worker that had just
    # set its handler was lost, and the worker served on until the supervisor killed it. Until
    # then a stop signal ends this process by its default action, with nothing begun yet.
    loop.call_soon(listen)
    web.run_app(
        served_app(config),
        sock=sock,
        access_log=None,
        print=None,
        shutdown_timeout=drain_seconds(config.settings.server.shutdown_seconds),
        handle_signals=False,
        loop=loop,
    )


def _exit_by(seconds: float) -> None:
    """The drain's hard limit: a process still draining `seconds` after the signal ends then."""

    def too_late() -> None:
        log.error("still stopping %.1f s after the signal ([server] shutdown_seconds): exiting now", seconds)
        logging.shutdown()
        os._exit(1)

    timer = threading.Timer(seconds, too_late)
    timer.daemon = True
    timer.start()


def run(args: argparse.Namespace) -> None:
    config = config_or_exit(args.environ)
    refuse_unsafe(config)  # production: no demo secrets, fallbacks or demo adapters
    server = config.settings.server
    host = args.host or server.host
    port = args.port or server.port
    workers = args.workers or server.workers
    setup_logging(config.settings.logging.level, config.settings.logging.json)
    asyncio.run(_check_schema(config))
    if workers == 1 or not PORT_PER_WORKER:
        sock = listening(host, port)
        sock.set_inheritable(True)
    else:
        sock = held_port(host, port)
    print(f"bayaffairs serving on http://{host}:{port} with {workers} worker(s)", file=sys.stderr, flush=True)
    if workers == 1:
        _serve_on(config, sock)
        return
    metrics_dir = tempfile.mkdtemp(prefix="bayaffairs-metrics-")
    try:
        sys.exit(Supervisor(config, sock, workers, metrics_dir).run())
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


BACKLOG = 1024
# Sockets of one port, each with its own accept queue, the kernel choosing one per connection.
PORT_PER_WORKER = sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def _socket(host: str, *, reuse_port: bool = False) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    return sock


def listening(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    sock = _socket(host, reuse_port=reuse_port)
    try:
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except BaseException:
        sock.close()
        raise
    return sock


def held_port(host: str, port: int) -> socket.socket:
    """The port bound for the workers' own sockets (SO_REUSEPORT), not listening: it takes no
    connection. First bound without SO_REUSEPORT, which fails (EADDRINUSE) if any socket holds
    the port, as the shared socket did: another server on the port is refused, never joined."""
    with _socket(host) as first:
        first.bind((host, port))
        port = first.getsockname()[1]  # the one chosen, for port 0
    held = _socket(host, reuse_port=True)
    try:
        held.bind((host, port))
    except BaseException:
        held.close()
        raise
    return held


class Supervisor:
    """Keeps `count` workers serving on `sock` until SIGTERM or SIGINT, then stops them all
    within `[server] shutdown_seconds`. A listening `sock` is shared by the workers; a bound one
    (`held_port`) gives its address to each worker's own listening socket."""

    def __init__(self, config: Config, sock: socket.socket, count: int, metrics_dir: str) -> None:
        self.config = config
        self.sock = sock
        self.count = count
        self.metrics_dir = metrics_dir
        self.children: dict[int, float] = {}  # pid -> when it was forked
        self.stop_signal: int | None = None
        self.deadline = 0.0
        self.last_fork = 0.0
        self.status = 0

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        for _ in range(self.count):
            self._fork()
        while self.stop_signal is None:
            self._reap()
            if len(self.children) < self.count and time.monotonic() - self.last_fork >= RESTART_PAUSE:
                self._fork()
            time.sleep(0.05)
        # Passed on here, not in the handler: a handler can run anywhere, also between a fork and
        # its entry in `children`, and that worker would never hear the stop (killed at the deadline).
        self._signal_all(self.stop_signal)
        self.sock.close()  # with the workers' sockets closed too, new connections are refused
        return self._stop()

    def _on_signal(self, signum: int, _frame: object) -> None:
        if self.stop_signal is None:
            self.stop_signal = signum
            self.deadline = time.monotonic() + self.config.settings.server.shutdown_seconds - KILL_MARGIN

    def _signal_all(self, signum: int) -> None:
        for pid in self.children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    def _stop(self) -> int:
        while self.children and time.monotonic() < self.deadline:
            self._reap()
            time.sleep(0.02)
        if self.children:
            log.error(
                "workers %s still running %.1f s after the signal ([server] shutdown_seconds): killing them",
                sorted(self.children),
                self.config.settings.server.shutdown_seconds,
            )
            self._signal_all(signal.SIGKILL)
            while self.children:
                self._reap(block=True)
            return 1
        return self.status

    def _reap(self, *, block: bool = False) -> None:
        while self.children:
            try:
                pid, wait_status = os.waitpid(-1, 0 if block else os.WNOHANG)
            except ChildProcessError:
                self.children.clear()
                return
            if pid == 0:
                return
            if self.children.pop(pid, None) is None:
                continue
            forget_process(pid, self.metrics_dir)
            code = os.waitstatus_to_exitcode(wait_status)
            if self.stop_signal is None:
                cause = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}"
                log.error("worker %d %s: restarting it", pid, cause)
            elif code == -self.stop_signal:
                # Ended by the stop signal's default action: it came before the worker set its
                # own handler, so the worker was still starting and had nothing in flight.
                log.info("worker %d stopped while still starting", pid)
            elif code != 0:
                log.error("worker %d exited with code %d while stopping", pid, code)
                self.status = self.status or 1
            if block:
                return

    def _fork(self) -> None:
        """Fork a worker, unless a stop came. The stop signals wait meanwhile: the new worker starts
        with them blocked (one sent at its birth would otherwise run the supervisor's handler
        there, or be dropped), and unblocks them once they end it (`_worker`)."""
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            if self.stop_signal is not None:
                return
            pid = os.fork()
            if pid == 0:
                self._worker()
            self.children[pid] = self.last_fork = time.monotonic()
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)

    def _own_socket(self) -> socket.socket:
        """In a worker: the shared socket, or one of its own on the held port."""
        if _listens(self.sock):
            return self.sock
        host, port = self.sock.getsockname()[:2]
        own = listening(host, port, reuse_port=True)
        self.sock.close()  # the supervisor's copy holds the port
        return own

    def _worker(self) -> None:
        """In the forked child: serve until told to stop, then leave without running the
        supervisor's exit handlers."""
        code = 0
        try:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            # Started while the stop signals are blocked, this thread keeps them so: they reach
            # the main thread, which sets their handlers.
            threading.Thread(target=_stop_with, args=(os.getppid(),), daemon=True).start()
            # A stop that came while this worker was forked ends it now, as "still starting".
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
            use_multiprocess(self.metrics_dir)
            _serve_on(self.config, self._own_socket())
        except BaseException:  # noqa: BLE001 - a worker reports and exits, the supervisor forks another
            traceback.print_exc()
            code = 1
        finally:
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)


def _listens(sock: socket.socket) -> bool:
    return bool(sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN))


def _stop_with(supervisor: int) -> None:
    """A worker whose supervisor was killed outright drains and stops, as on SIGTERM."""
    while os.getppid() == supervisor:
        time.sleep(0.5)
    os.kill(os.getpid(), signal.SIGTERM)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the web service")
    p.add_argument("--host", help="default from config [server] host")
    p.add_argument("--port", type=int, help="default from config [server] port (8080)")
    p.add_argument(
        "--workers", type=int, help="processes sharing the port, supervised and restarted (default 1)"
    )
    p.set_defaults(run=run, sync=True)
