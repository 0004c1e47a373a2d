"""`bayaffairs serve --workers N` as an operator runs it: a dead worker comes back, SIGTERM drains
and stops quietly within `[server] shutdown_seconds`, and /metrics counts every worker."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import asyncpg
import orjson
import pytest

from bayaffairs.db.queries.job_owners import NAMESPACE
from tests.cli.conftest import Cli
from tests.cli.test_serve import child_pids, free_port, wait_until_up

SHUTDOWN_SECONDS = 10.0  # the machine may be loaded: a renderer's start can take seconds


@dataclass
class Served:
    """A running `bayaffairs serve` and everything it wrote on stderr so far."""

    process: asyncio.subprocess.Process
    port: int
    stderr: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def workers(self) -> list[int]:
        own = _cmdline(self.process.pid)
        return [int(p) for p in child_pids(self.process.pid) if _cmdline(int(p)) == own]

    def answering_pids(self) -> set[int]:
        return {
            line["pid"]
            for line in self.json_lines()
            if line.get("logger") == "bayaffairs.access" and "pid" in line
        }

    def noise(self) -> list[str]:
        """What stderr holds besides the banner and JSON log lines below error (tracebacks,
        warnings printed by Python, errors logged)."""
        out = []
        for raw in self.stderr:
            try:
                line = orjson.loads(raw)
            except orjson.JSONDecodeError:
                if not raw.startswith(("bayaffairs serving on", "bayaffairs: profile ")):
                    out.append(raw)
                continue
            if line.get("level") in ("error", "critical") or "exc" in line:
                out.append(raw)
        return out

    def json_lines(self) -> list[dict[str, object]]:
        out = []
        for raw in self.stderr:
            try:
                out.append(orjson.loads(raw))
            except orjson.JSONDecodeError:
                continue
        return out

    async def stop(self) -> tuple[int, float]:
        """SIGTERM; (exit code, seconds it took)."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self.process.wait(), timeout=SHUTDOWN_SECONDS + 10)
        return code, time.monotonic() - started


def _cmdline(pid: int) -> bytes:
    """Forked workers run the supervisor's own command line; the QR renderers they spawn run
    multiprocessing's."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return b""


async def _collect(stream: asyncio.StreamReader, into: list[str]) -> None:
    while line := await stream.readline():
        into.append(line.decode(errors="replace").rstrip("\n"))


@pytest.fixture
async def serve(cli_env: dict[str, str], pg: asyncpg.Connection) -> AsyncIterator[object]:
    started: list[tuple[Served, asyncio.Task[None]]] = []

    async def start(workers: int, *, launcher: str = "", **env: str) -> Served:
        """`launcher`: Python code run instead of `-m bayaffairs.cli.main` (LAUNCHER)."""
        port = free_port()
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *(["-c", launcher] if launcher else ["-m", "bayaffairs.cli.main"]),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            env={
                **cli_env,
                "BAYAFFAIRS_SERVER_SHUTDOWN_SECONDS": str(SHUTDOWN_SECONDS),
                "BAYAFFAIRS_RATE_LIMITS_AUTH": "0/1",
                "BAYAFFAIRS_RATE_LIMITS_READ": "0/1",
                "BAYAFFAIRS_RATE_LIMITS_WRITE": "0/1",
                **env,
            },
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        served = Served(process, port)
        assert process.stderr is not None
        started.append((served, asyncio.create_task(_collect(process.stderr, served.stderr))))
        await wait_until_up(f"{served.url}/readyz")
        return served

    yield start
    for served, reader in started:
        if served.process.returncode is None:
            for worker in served.workers():  # a test that failed may leave one that does not stop
                os.kill(worker, signal.SIGKILL)
            served.process.kill()
            await served.process.wait()
        try:  # stderr ends when the last process holding it ends
            await asyncio.wait_for(reader, timeout=10)
        except TimeoutError:
            raise AssertionError(f"a process of server pid {served.process.pid} outlived it") from None


async def test_a_killed_worker_is_replaced_within_two_seconds(serve: object) -> None:
    served: Served = await serve(2)  # type: ignore[operator]
    before = served.workers()
    assert len(before) == 2
    os.kill(before[0], signal.SIGKILL)
    killed_at = time.monotonic()
    while time.monotonic() - killed_at < 2.0:
        now = served.workers()
        if len(now) == 2 and before[0] not in now:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError(f"workers {served.workers()} 2 s after killing {before[0]} (were {before})")
    await wait_until_up(f"{served.url}/readyz")
    async with aiohttp.ClientSession() as session:
        for _ in range(20):  # new connections, spread over both workers
            async with session.get(f"{served.url}/healthz", headers={"Connection": "close"}) as resp:
                assert resp.status == 200
    code, _ = await served.stop()
    assert code == 0
    assert any("restart" in line for line in served.stderr), served.stderr[-5:]


# `bayaffairs serve` with test hooks put in before it runs (os.register_at_fork): a SIGTERM sent
# at an exact point of the fork of worker number FORK, where a deploy's stop lands only by chance
# (a test that polled /proc and signalled on seeing the fork failed 4 runs in 10), or a worker that
# never hears a stop signal.
LAUNCHER = """
import os, runpy, signal, sys, time
FORK, WHERE = {fork}, {where!r}
supervisor, forks = os.getpid(), 0
STOP = {{signal.SIGTERM, signal.SIGINT}}

def in_supervisor():
    global forks
    if os.getpid() != supervisor:
        return
    forks += 1
    if forks == FORK and "supervisor at fork" in WHERE:  # after fork(), before os.fork() returns
        print(f"test: SIGTERM to the supervisor inside fork {{forks}}", file=sys.stderr, flush=True)
        os.kill(supervisor, signal.SIGTERM)

def in_worker():
    if os.getppid() == supervisor and forks + 1 == FORK:
        if "worker at birth" in WHERE:  # before the worker's own code runs
            print(f"test: SIGTERM to worker {{os.getpid()}} at its birth", file=sys.stderr, flush=True)
            os.kill(os.getpid(), signal.SIGTERM)
        if "worker before its loop" in WHERE:  # its handlers set, its event loop not yet running
            from aiohttp import web
            run_app = web.run_app
            def late(*args, **kwargs):
                signal.pthread_sigmask(signal.SIG_BLOCK, STOP)
                os.kill(supervisor, signal.SIGTERM)
                for _ in range(1000):  # until the supervisor's stop, passed on, waits here
                    if signal.SIGTERM in signal.sigpending():
                        line = f"test: SIGTERM to worker {{os.getpid()}} before its loop runs"
                        print(line, file=sys.stderr, flush=True)
                        break
                    time.sleep(0.01)
                signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP)
                return run_app(*args, **kwargs)
            web.run_app = late
        if "deaf" in WHERE:  # never hears a stop signal: serves on until killed
            print(f"test: worker {{os.getpid()}} is deaf", file=sys.stderr, flush=True)
            import bayaffairs.cli.serve as serve
            serve_on = serve._serve_on
            from multiprocessing import resource_tracker
            def deaf(config, sock):  # the threads it starts inherit this, the one before keeps them so
                resource_tracker.ensure_running()  # starting it later would unblock them (stdlib)
                signal.pthread_sigmask(signal.SIG_BLOCK, STOP)
                serve_on(config, sock)
            serve._serve_on = deaf

os.register_at_fork(after_in_parent=in_supervisor, after_in_child=in_worker)
runpy.run_module("bayaffairs.cli.main", run_name="__main__", alter_sys=True)
"""


@pytest.mark.parametrize(
    "where", ["supervisor at fork", "supervisor at fork, worker at birth", "worker before its loop"]
)
async def test_a_stop_while_a_worker_is_still_starting_is_a_clean_stop(serve: object, where: str) -> None:
    """SIGTERM reaching the supervisor while it forks a worker (here the replacement of a killed
    one), or reaching the new worker before it serves (at its birth, or once it set its handlers
    but before its event loop runs), ends that worker with nothing in flight: the supervisor's
    exit code stays 0, a deploy's stop is not a failure."""
    launcher = LAUNCHER.format(fork=3, where=where)  # forks 1 and 2 are the first two workers
    served: Served = await serve(2, launcher=launcher, BAYAFFAIRS_LOGGING_LEVEL="INFO")  # type: ignore[operator]
    first = served.workers()[0]
    os.kill(first, signal.SIGKILL)  # the supervisor forks its replacement, and the hooks signal
    code = await asyncio.wait_for(served.process.wait(), timeout=SHUTDOWN_SECONDS + 10)
    log = "\n".join(served.stderr)
    # Control: the signals were sent inside the windows (the hooks ran at the replacement's fork).
    assert ("test: SIGTERM to the supervisor inside fork 3" in log) == ("supervisor at fork" in where), log
    assert ("at its birth" in log) == ("worker at birth" in where), log
    assert ("before its loop runs" in log) == ("worker before its loop" in where), log
    assert code == 0, log
    assert "still running" not in log, log  # every worker stopped, none was killed


async def test_a_worker_that_never_hears_the_stop_is_killed_and_reported(serve: object) -> None:
    """The supervisor's last resort stays: a worker still running at `shutdown_seconds` (this one
    blocks the stop signals) is killed, named in the log, and serve exits 1."""
    launcher = LAUNCHER.format(fork=2, where="deaf")
    served: Served = await serve(2, launcher=launcher, BAYAFFAIRS_SERVER_SHUTDOWN_SECONDS="2")  # type: ignore[operator]
    deaf = served.workers()[1]
    code, seconds = await served.stop()
    log = "\n".join(served.stderr)
    assert f"test: worker {deaf} is deaf" in log, log  # control: the hook made the second worker deaf
    assert code == 1, log
    assert 1.5 <= seconds < 2 + 5, (seconds, log)  # killed at the deadline, not before, not much after
    assert f"workers [{deaf}] still running 2.0 s after the signal" in log, log
    assert f"worker {deaf} exited with code -9 while stopping" in log, log


async def _rider(session: aiohttp.ClientSession, url: str) -> dict[str, str]:
    """Headers of a signed-in rider with a wallet."""
    async with session.post(f"{url}/v1/auth/sessions", json={"provider": "dev", "code": "png"}) as resp:
        headers = {"Authorization": f"Bearer {(await resp.json())['token']}"}
    async with session.put(
        f"{url}/v1/me/wallet", json={"currency": "HKD", "provider": "demo"}, headers=headers
    ) as resp:
        assert resp.status == 200
    return headers


async def test_sigterm_finishes_a_request_in_flight_and_refuses_new_connections(
    serve: object, cli: Cli
) -> None:
    assert (await cli("keys", "rotate", "ride_codes", "--now")).status == 0
    served: Served = await serve(1, BAYAFFAIRS_SERVER_SHUTDOWN_SECONDS="20")  # type: ignore[operator]
    async with aiohttp.ClientSession() as session:
        headers = await _rider(session, served.url)
        async with session.post(
            f"{served.url}/v1/ride-codes", json={"city": "shenzhen"}, headers=headers
        ) as resp:
            png_url = (await resp.json())["png_url"]
        # The first image of a worker waits for its renderer process to start (well over 0.2 s).
        image = asyncio.create_task(session.get(f"{served.url}{png_url}", headers=headers))
        await asyncio.sleep(0.2)
        started = time.monotonic()
        served.process.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.2)
        with pytest.raises(OSError):  # no longer accepting
            await asyncio.open_connection("127.0.0.1", served.port)
        async with await image as resp:
            assert resp.status == 200
            assert (await resp.read()).startswith(b"\x89PNG")
    code = await asyncio.wait_for(served.process.wait(), timeout=30)
    assert code == 0
    assert time.monotonic() - started <= 20
    assert served.noise() == [], "\n".join(served.noise())


async def _png_load(url: str, seconds: float) -> int:
    """Ride codes and their PNGs on 8 connections for `seconds`; how many PNGs came back."""
    done = 0
    async with aiohttp.ClientSession() as session:
        headers = await _rider(session, url)

        async def one() -> None:
            nonlocal done
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                try:
                    async with session.post(
                        f"{url}/v1/ride-codes", json={"city": "shenzhen"}, headers=headers
                    ) as resp:
                        png_url = (await resp.json())["png_url"]
                    async with session.get(f"{url}{png_url}", headers=headers) as resp:
                        done += resp.status == 200
                except (aiohttp.ClientError, KeyError):
                    return  # the server stopped taking requests

        await asyncio.gather(*(one() for _ in range(8)))
    return done


@pytest.mark.parametrize("workers", [1, 2])
async def test_sigterm_under_png_load_stops_quietly_within_shutdown_seconds(
    serve: object, cli: Cli, workers: int
) -> None:
    assert (await cli("keys", "rotate", "ride_codes", "--now")).status == 0
    # 20 s: renders in flight at the signal may wait seconds for a renderer on a loaded machine
    served: Served = await serve(workers, BAYAFFAIRS_SERVER_SHUTDOWN_SECONDS="20")  # type: ignore[operator]
    load = asyncio.create_task(_png_load(served.url, 8.0))
    await asyncio.sleep(3.0)  # renderers starting and rendering
    code, seconds = await served.stop()
    pngs = await load
    assert code == 0
    assert seconds <= 20
    assert pngs > 0  # control: images were rendered
    assert served.noise() == [], "\n".join(served.noise())


async def test_metrics_count_the_requests_of_every_worker(serve: object) -> None:
    served: Served = await serve(2, BAYAFFAIRS_LOGGING_LEVEL="INFO", BAYAFFAIRS_LOGGING_ACCESS_LOG="true")  # type: ignore[operator]
    sent = 0
    async with aiohttp.ClientSession() as session:

        async def healthz() -> None:
            async with session.get(f"{served.url}/healthz", headers={"Connection": "close"}) as resp:
                assert resp.status == 200

        for _ in range(20):  # until both workers have answered some (each connection goes to one)
            await asyncio.gather(*(healthz() for _ in range(20)))
            sent += 20
            await asyncio.sleep(0.1)
            if len(served.answering_pids()) == 2:
                break
        assert len(served.answering_pids()) == 2, "one worker answered everything"
        counts = set()
        for _ in range(10):  # scrapes, answered by one worker or the other
            async with session.get(f"{served.url}/metrics", headers={"Connection": "close"}) as resp:
                text = await resp.text()
            found = re.search(
                r'^bayaffairs_http_requests_total\{method="GET",route="/healthz",status="200"\} (\S+)$',
                text,
                re.MULTILINE,
            )
            assert found, text[:2000]
            counts.add(float(found.group(1)))
            # the backlog, read by the worker answering: once, not summed over the workers
            assert len(re.findall(r"^bayaffairs_charges_due \S+$", text, re.MULTILINE)) == 1, text[:2000]
    assert counts == {sent}
    await served.stop()


QUICK_JOBS = {"build data exports"}  # a period of 1 s
EVERY_WORKER = "record offline taps"  # no owner: each worker drains (bayaffairs/wiring/jobs.py)
OWNED = """
    SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE l.locktype = 'advisory' AND l.classid = $1 AND l.objsubid = 2 AND l.granted
      AND a.datname = current_database()
"""


def taken(served: Served) -> list[tuple[int, str]]:
    """(pid, job) for each "runs <job> now" line the server logged."""
    return [
        (int(str(line["pid"])), str(line["job"]))
        for line in served.json_lines()
        if "job" in line and "runs" in str(line.get("msg", ""))
    ]


async def test_each_periodic_job_has_one_owner_across_two_servers_on_one_database(
    serve: object, pg: asyncpg.Connection
) -> None:
    info = {"BAYAFFAIRS_LOGGING_LEVEL": "INFO"}
    first: Served = await serve(2, **info)  # type: ignore[operator]
    second: Served = await serve(2, **info)  # type: ignore[operator]
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        owned = {job for _, job in taken(first) + taken(second)}
        if owned >= QUICK_JOBS:
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(3)  # every worker's timer of the quick jobs has fired again meanwhile
    # Jobs with longer periods keep taking their locks meanwhile (late on a loaded machine), so the
    # held locks are compared with the claims only when no claim was logged around the count.
    deadline = time.monotonic() + 15
    while True:
        claims = taken(first) + taken(second)
        owned_now = await pg.fetchval(OWNED, NAMESPACE)
        if taken(first) + taken(second) == claims or time.monotonic() > deadline:
            break
    jobs = [job for _, job in claims]
    assert set(jobs) >= QUICK_JOBS, claims
    assert len(jobs) == len(set(jobs)), f"a job taken twice while its owner lives: {claims}"
    assert EVERY_WORKER not in jobs, f"{EVERY_WORKER!r} runs in every worker, it has no owner: {claims}"
    # Control: the lock is what the others meet; a job nobody runs is free to take.
    assert owned_now == len(jobs), claims
    for job in QUICK_JOBS:
        assert not await pg.fetchval("SELECT pg_try_advisory_lock($1::int, hashtext($2))", NAMESPACE, job)
    assert await pg.fetchval("SELECT pg_try_advisory_lock($1::int, hashtext('no such job'))", NAMESPACE)

    # The owner of the exports goes away: the other server takes the job over.
    owner = next(pid for pid, job in claims if job == "build data exports")
    leaving, staying = (first, second) if owner in first.workers() else (second, first)
    code, _ = await leaving.stop()
    assert code == 0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if "build data exports" in {job for _, job in taken(staying)}:
            break
        await asyncio.sleep(0.2)
    else:
        raise AssertionError(f"nobody took the exports over: {taken(staying)}")
    await staying.stop()


async def test_connections_opened_while_one_worker_is_busy_are_spread_over_the_workers(
    serve: object,
) -> None:
    """Clients keep their connections (a counter polling its day, a gate, the bench's 64), so
    where a connection lands is where its requests are served while it lives. On one shared
    socket, a worker that was not running for the few milliseconds of a burst (the other took
    the CPU, or the machine is loaded) got none of it: in the counter-day bench one worker held
    64 of 64 connections, or 56, and one core served while the other idled. With a socket per
    worker the kernel puts each new connection in one worker's queue, busy or not."""
    served: Served = await serve(2, BAYAFFAIRS_LOGGING_LEVEL="INFO", BAYAFFAIRS_LOGGING_ACCESS_LOG="true")  # type: ignore[operator]
    await _until_both_workers_answer(served)
    busy, running = served.workers()
    before = len(_access_lines(served))
    connections = 64
    os.kill(busy, signal.SIGSTOP)  # not scheduled while the burst arrives
    try:
        socks = await asyncio.to_thread(_burst, served.port, connections)
        await asyncio.sleep(0.5)  # the running worker accepts and answers all it can meanwhile
    finally:
        os.kill(busy, signal.SIGCONT)
    await asyncio.to_thread(_answers, socks)
    for _ in range(200):
        if len(_access_lines(served)) >= before + connections:
            break
        await asyncio.sleep(0.05)
    answered = Counter(line["pid"] for line in _access_lines(served)[before:])
    assert sum(answered.values()) == connections, answered
    # Hashed over two sockets: fewer than 12 of 64 in one queue has a chance of about 1 in 10 million.
    assert answered[busy] >= 12 and answered[running] >= 12, f"answers per worker: {dict(answered)}"
    await served.stop()


def _burst(port: int, connections: int) -> list[socket.socket]:
    """`connections` connections, each sending one request at once, as a load generator does."""
    socks = []
    for _ in range(connections):
        sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
        socks.append(sock)
    return socks


def _answers(socks: list[socket.socket]) -> None:
    try:
        for sock in socks:
            assert sock.recv(65536).startswith(b"HTTP/1.1 200"), "no 200"
    finally:
        for sock in socks:
            sock.close()


def _access_lines(served: Served) -> list[dict[str, object]]:
    return [line for line in served.json_lines() if line.get("logger") == "bayaffairs.access"]


async def _until_both_workers_answer(served: Served) -> None:
    """Both workers answer (one may still be starting when the first answers /readyz)."""
    async with aiohttp.ClientSession() as session:
        for _ in range(200):
            async with session.get(f"{served.url}/healthz", headers={"Connection": "close"}) as resp:
                assert resp.status == 200
            if len(served.answering_pids()) == 2:
                return
            await asyncio.sleep(0.05)
    raise AssertionError(f"only {served.answering_pids()} answered")


async def test_a_second_server_on_the_port_of_one_with_workers_is_refused(
    serve: object, cli_process: Cli
) -> None:
    """The workers' sockets share the port (SO_REUSEPORT), which would let another server share
    it too, unseen: it is refused as with one shared socket, and the first keeps every request."""
    served: Served = await serve(2)  # type: ignore[operator]
    second = await asyncio.wait_for(
        cli_process("serve", "--host", "127.0.0.1", "--port", str(served.port), "--workers", "2"),
        timeout=60,
    )
    assert second.status != 0
    assert "Address already in use" in second.stderr, second.stderr[-2000:]
    async with aiohttp.ClientSession() as session:
        for _ in range(10):
            async with session.get(f"{served.url}/healthz", headers={"Connection": "close"}) as resp:
                assert resp.status == 200
    code, _ = await served.stop()
    assert code == 0
