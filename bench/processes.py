"""Every process the harness starts, and stopping each one by PID, also on Ctrl-C or failure.

Children get their own session, so a Ctrl-C in the terminal reaches only the harness, which
then stops them in order (load first, then servers) instead of leaving workers behind.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType


class ProcessError(RuntimeError):
    """A process the harness depends on failed; the message carries the end of its log."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def children_of(pid: int) -> list[int]:
    """Direct children, from /proc (Linux); forked workers of a server show up here."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found.extend(int(c) for c in (task / "children").read_text().split())
    return found


def descendants_of(pid: int) -> list[int]:
    out: list[int] = []
    for child in children_of(pid):
        out.append(child)
        out.extend(descendants_of(child))
    return out


def event_loop_of(pid: int) -> str:
    """'uvloop' when the uvloop extension is mapped into the process, else 'asyncio'.

    Read from the running process rather than trusted from configuration, so the report shows
    what each side really used.
    """
    try:
        maps = Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return "unknown"
    return "uvloop" if "/uvloop/loop." in maps else "asyncio"


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def serving_loops(pid: int) -> str:
    """The loop of the processes that answer requests: the workers if forked, else `pid` itself.

    Forked workers share the parent's command line; other children do not (the service's QR
    process pool starts multiprocessing's resource tracker, a fresh `python -c ...`, with the
    app), so they are not mistaken for workers.
    """
    parent = _cmdline(pid)
    workers = [c for c in children_of(pid) if _cmdline(c) == parent] or [pid]
    return "+".join(sorted({event_loop_of(w) for w in workers}))


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class Processes:
    """Starts processes and guarantees they are stopped, newest first, when the block ends."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self._running: list[tuple[str, subprocess.Popen[bytes], Path]] = []
        self._count = 0

    def __enter__(self) -> Processes:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # A second Ctrl-C must not cut the clean-up short and leave servers running.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            self.stop_all()
        finally:
            signal.signal(signal.SIGINT, previous)

    def start(
        self, name: str, argv: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: Path | None = None
    ) -> subprocess.Popen[bytes]:
        self._count += 1
        log = self.log_dir / f"{self._count:03d}-{name}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                start_new_session=True,
            )
        self._running.append((name, proc, log))
        return proc

    def log_of(self, proc: subprocess.Popen[bytes]) -> Path:
        return next(log for _, p, log in self._running if p is proc)

    def run(
        self,
        name: str,
        argv: Sequence[str],
        *,
        timeout: float,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> str:
        """Run to completion and return its output; raise ProcessError if it fails."""
        proc = self.start(name, argv, env=env, cwd=cwd)
        log = self.log_of(proc)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise ProcessError(f"{name} did not finish in {timeout:.0f} s:\n{log_tail(log)}") from None
        finally:
            self.stop(proc)
        output = log.read_text(errors="replace")
        if code != 0:
            raise ProcessError(f"{name} exited with {code}:\n{log_tail(log)}")
        return output

    def finish(self, proc: subprocess.Popen[bytes], *, timeout: float) -> str:
        """Wait for a process started with start() to end by itself; return its output.

        For a load running in the background (wrk alongside a measured one). Stopped by PID,
        and an error, if it outlives `timeout`.
        """
        log = self.log_of(proc)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise ProcessError(
                f"pid {proc.pid} did not finish in {timeout:.0f} s:\n{log_tail(log)}"
            ) from None
        finally:
            self.stop(proc)
        return log.read_text(errors="replace")

    def stop(self, proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
        """SIGTERM, then SIGKILL after `timeout`; forked workers left behind are stopped the same way."""
        entry = next((e for e in self._running if e[1] is proc), None)
        if entry is None:
            return
        self._running.remove(entry)
        workers = descendants_of(proc.pid)
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                print(f"bench: {entry[0]} (pid {proc.pid}) ignored SIGTERM, killing it", file=sys.stderr)
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait()
        for pid in workers:
            _stop_orphan(pid, timeout)

    def stop_all(self) -> None:
        for _, proc, _ in reversed(list(self._running)):
            self.stop(proc)


def _stop_orphan(pid: int, timeout: float) -> None:
    if not _alive(pid):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def wait_for_http(
    proc: subprocess.Popen[bytes], log: Path, port: int, path: str, timeout: float = 60.0
) -> None:
    """Poll until `path` answers 200; fail early, with the server's log, if the process exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ProcessError(f"the server exited with {proc.returncode} while starting:\n{log_tail(log)}")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.1)
    raise ProcessError(f"{path} did not answer 200 within {timeout:.0f} s:\n{log_tail(log)}")
