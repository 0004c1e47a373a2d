"""wrk as the load generator: finding or installing it, writing its Lua scripts, reading its output.

wrk is one C process with an event loop per thread, so on this 2-vCPU box it takes far less CPU
from the server under test than a Python client would.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bench.processes import Processes

INSTALL_HINT = "install it with `apt-get install -y wrk` (Debian package `wrk`), then run again"


@dataclass(frozen=True)
class Request:
    """What wrk sends; `unique_header` is filled with a value unique per request (Idempotency-Key)."""

    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    unique_header: str | None = None


@dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: Mapping[str, int]

    @property
    def errors(self) -> int:
        return sum(self.socket_errors.values())


def ensure_wrk() -> str:
    """The path of wrk; installs the Debian package when missing and allowed (root with apt-get)."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise SystemExit(f"bench: wrk is not installed: {INSTALL_HINT}")
    print("bench: wrk not found; running `apt-get install -y wrk`", file=sys.stderr, flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}

    def apt(*args: str) -> int:
        return subprocess.run(["apt-get", *args], env=env, stdout=sys.stderr, check=False).returncode

    if apt("install", "-y", "wrk") != 0:
        # Package lists may be missing or stale on a fresh machine.
        apt("update")
        apt("install", "-y", "wrk")
    found = shutil.which("wrk")
    if not found:
        raise SystemExit(f"bench: installing wrk failed: {INSTALL_HINT}")
    return found


def _lua_string(value: str | bytes) -> str:
    raw = value.encode() if isinstance(value, str) else value
    out = []
    for byte in raw:
        char = chr(byte)
        if char in '"\\' or not 32 <= byte < 127:
            out.append(f"\\{byte:03d}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def lua_script(request: Request) -> str:
    """A script setting method, headers and body once; with `unique_header`, a request() function
    builds each request with `<prefix>-<thread>-<counter>` (the prefix is a wrk argument, new
    for every wrk run, so warm-up and measured runs never reuse a key)."""
    lines = [f"wrk.method = {_lua_string(request.method)}"]
    for name, value in request.headers.items():
        lines.append(f"wrk.headers[{_lua_string(name)}] = {_lua_string(value)}")
    if request.body is not None:
        lines.append(f"wrk.body = {_lua_string(request.body)}")
    if request.unique_header:
        header = _lua_string(request.unique_header)
        lines += [
            "local threads = 0",
            "function setup(thread)",
            "  threads = threads + 1",
            "  thread:set('tid', threads)",
            "end",
            "local counter = 0",
            "local prefix = 'bench'",
            "function init(args)",
            "  if args[1] then prefix = args[1] end",
            "end",
            "function request()",
            "  counter = counter + 1",
            f"  wrk.headers[{header}] = prefix .. '-' .. tid .. '-' .. counter",
            "  return wrk.format()",
            "end",
        ]
    return "\n".join(lines) + "\n"


def command(wrk: str, url: str, script: Path, *, duration: int, connections: int, threads: int) -> list[str]:
    return [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--latency",
        "-s",
        str(script),
        url,
        "--",
        uuid.uuid4().hex[:12],
    ]


def run(processes: Processes, argv: list[str], duration: int) -> WrkResult:
    output = processes.run("wrk", argv, timeout=duration + 30)
    return parse(output)


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if not match:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def parse(output: str) -> WrkResult:
    """Read the summary of `wrk --latency`; raise ValueError if a required line is missing."""

    def find(pattern: str) -> re.Match[str]:
        match = re.search(pattern, output, re.MULTILINE)
        if match is None:
            raise ValueError(f"wrk output has no line matching {pattern!r}:\n{output}")
        return match

    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output, re.MULTILINE
    )
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return WrkResult(
        requests_per_second=float(find(r"^Requests/sec:\s+([\d.]+)").group(1)),
        p50_ms=_ms(find(r"^\s+50%\s+(\S+)").group(1)),
        p99_ms=_ms(find(r"^\s+99%\s+(\S+)").group(1)),
        requests=int(find(r"^\s+(\d+) requests in").group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=dict(
            zip(("connect", "read", "write", "timeout"), map(int, errors.groups()), strict=True)
        )
        if errors
        else {},
    )
