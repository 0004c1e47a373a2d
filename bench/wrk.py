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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bench.processes import Processes

INSTALL_HINT = "install it with `apt-get install -y wrk` (Debian package `wrk`), then run again"


@dataclass(frozen=True)
class Follow:
    """A second request made from the answer to the first, as an app does (create, then fetch).

    After a 2xx answer whose body matches `pattern` (a Lua pattern capturing a path), the
    thread's next request is a GET of that path with `headers` and no body. Counting the
    follow-up answers (a `count` entry) gives completed pairs per second.
    """

    pattern: str
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Request:
    """What wrk sends.

    `unique_header` is filled with a value unique per request (Idempotency-Key). `count` maps a
    counter name to a plain substring searched in every 2xx answer's body (`"decision":"open"`):
    wrk's own summary only knows statuses, and a scan's deny is a 200. `follow` chains a GET.
    Bodies that must never repeat (ride codes) come from the scenario's feed, not from here.
    """

    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    unique_header: str | None = None
    count: Mapping[str, str | bytes] = field(default_factory=dict)
    follow: Follow | None = None


@dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: Mapping[str, int]
    counters: Mapping[str, int] = field(default_factory=dict)
    seconds: float = 0.0

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


FED = "fed"  # counter: bodies taken from the feed file
EXHAUSTED = "exhausted"  # counter: a thread wanted a body after its slice ran out


def lua_script(request: Request, *, feed: bool = False) -> str:
    """The wrk script for `request`.

    The arguments after `--` are: a prefix new for every wrk run (so warm-up and measured runs
    never reuse an Idempotency-Key), then, with `feed`, the path that `write_feed` wrote the
    request bodies under: thread n reads only its own file (`<path>.n`, one body a line) and
    sends each line once; a thread whose file runs out stops and counts `exhausted` (the row is
    then marked, since wrk divides by the whole duration). Counters are globals of each thread's
    Lua state, summed in done() and printed as `wrk-counter <name> <value>` lines.

    A request with nothing per-request (no unique header, feed or follow-up) gets no request()
    function: wrk then formats it once, so the baseline's load generator costs what it always did.
    """
    dynamic = bool(request.unique_header or feed or request.follow)
    lines = [f"wrk.method = {_lua_string(request.method)}"]
    for name, value in request.headers.items():
        lines.append(f"wrk.headers[{_lua_string(name)}] = {_lua_string(value)}")
    if request.body is not None:
        # A local when dynamic: wrk.format() falls back to wrk.body for a GET without a body.
        target = "local body" if dynamic else "wrk.body"
        lines.append(f"{target} = {_lua_string(request.body)}")
    counters = [*request.count, *((FED, EXHAUSTED) if feed else ())]
    lines += [f"{_lua_name(name)} = 0" for name in counters]  # globals: read by thread:get()
    if dynamic or counters:
        # `tid` is a global of each thread's state, set by setup() before init() runs.
        lines += [
            "local threads = {}",
            "function setup(thread)",
            "  table.insert(threads, thread)",
            "  thread:set('tid', #threads)",
            "end",
        ]
    if dynamic:
        lines += _lua_request(request, feed)
    if request.count or request.follow:
        lines += [
            "function response(status, headers, answer)",
            "  if status < 200 or status > 299 then return end",
        ]
        for name, needle in request.count.items():
            counter = _lua_name(name)
            lines.append(
                f"  if string.find(answer, {_lua_string(needle)}, 1, true) then {counter} = {counter} + 1 end"
            )
        if request.follow:
            lines += [
                f"  local path = string.match(answer, {_lua_string(request.follow.pattern)})",
                "  if path then pending[#pending + 1] = path end",
            ]
        lines.append("end")
    if counters:
        names = ", ".join(_lua_string(n) for n in counters)
        lines += [
            "function done(summary, latency, requests)",
            f"  for _, name in ipairs({{{names}}}) do",
            "    local total = 0",
            "    for _, thread in ipairs(threads) do total = total + (thread:get('c_' .. name) or 0) end",
            "    io.write(string.format('wrk-counter %s %d\\n', name, total))",
            "  end",
            "end",
        ]
    return "\n".join(lines) + "\n"


def _lua_request(request: Request, feed: bool) -> list[str]:
    """init() (arguments, the thread's slice of the feed) and request() of a dynamic script."""
    lines = [
        "local prefix = 'bench'",
        "local head",
        "local next_body",
        "local fed = 0",
        "local counter = 0",
        "local pending = {}",
        "function init(args)",
        "  if args[1] then prefix = args[1] end",
    ]
    # A thread reads its feed as it sends, a line a request: reading it all in init() cost
    # about 0.4 s of wrk's CPU before the load (init() runs thread after thread), counted in the
    # row's CPU. A fed request without a per-request header is the head, formatted once as
    # wrk.format() writes it, and the body: one concatenation, instead of wrk.format() in
    # request() (a table, a string.format per header and a concatenation, every request).
    whole = feed and not request.unique_header
    if whole:
        lines += [
            "  local fields = {string.format('%s %s HTTP/1.1', wrk.method, wrk.path)}",
            "  for name, value in pairs(wrk.headers) do",
            "    if name ~= 'Content-Length' then",
            "      fields[#fields + 1] = string.format('%s: %s', name, value)",
            "    end",
            "  end",
            "  fields[#fields + 1] = 'Content-Length: '",
            "  head = table.concat(fields, '\\r\\n')",
        ]
    if feed:
        lines.append("  next_body = io.lines(args[2] .. '.' .. tid)")
    lines.append("end")
    if request.follow:
        pairs = ", ".join(f"[{_lua_string(k)}] = {_lua_string(v)}" for k, v in request.follow.headers.items())
        lines.append(f"local follow_headers = {{{pairs}}}")
    lines.append("function request()")
    if request.follow:
        lines += [
            "  local n = #pending",
            "  if n > 0 then",
            "    local path = pending[n]",
            "    pending[n] = nil",
            "    return wrk.format('GET', path, follow_headers)",
            "  end",
        ]
    if request.unique_header:
        header = _lua_string(request.unique_header)
        lines += [
            "  counter = counter + 1",
            f"  wrk.headers[{header}] = prefix .. '-' .. tid .. '-' .. counter",
        ]
    if feed:
        exhausted, fed = _lua_name(EXHAUSTED), _lua_name(FED)
        lines += [
            "  local body = next_body and next_body()",
            "  if not body then",
            "    next_body = nil",  # io.lines closed the file at its end: never call it again
            f"    {exhausted} = {exhausted} + 1",
            "    wrk.thread:stop()",
            "    return wrk.format('GET', '/healthz', {})",
            "  end",
            "  fed = fed + 1",
            f"  {fed} = fed",
            "  return head .. #body .. '\\r\\n\\r\\n' .. body"
            if whole
            else "  return wrk.format(nil, nil, nil, body)",
        ]
    else:
        lines.append("  return wrk.format(nil, nil, nil, body)")
    lines.append("end")
    return lines


def write_feed(path: Path, bodies: Iterable[bytes], threads: int) -> Path:
    """The bodies, one a line, dealt in turn to one file per wrk thread (`<path>.1` ...), so that
    each thread reads its own slice and no more: wrk runs every thread's init() one after the
    other before the load, within the CPU the bench accounts to the row. Returns `path`."""
    files = [path.with_name(f"{path.name}.{n}").open("wb") for n in range(1, threads + 1)]
    try:
        for i, body in enumerate(bodies):
            if b"\n" in body:
                raise ValueError("a fed body is one line")
            out = files[i % threads]
            out.write(body)
            out.write(b"\n")
    finally:
        for out in files:
            out.close()
    return path


def _lua_name(counter: str) -> str:
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", counter):
        raise ValueError(f"counter names are lower_snake_case: {counter!r}")
    return f"c_{counter}"


def command(
    wrk: str,
    url: str,
    script: Path,
    *,
    duration: int,
    connections: int,
    threads: int,
    feed: Path | None = None,
) -> list[str]:
    """The wrk command line; with `feed` (the path given to `write_feed`), it follows the prefix."""
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
        *((str(feed),) if feed else ()),
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
    seconds = re.search(r"^\s+\d+ requests in ([\d.]+\w+),", output, re.MULTILINE)
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
        counters={
            m.group(1): int(m.group(2)) for m in re.finditer(r"^wrk-counter (\w+) (\d+)$", output, re.M)
        },
        seconds=_ms(seconds.group(1)) / 1000 if seconds else 0.0,
    )
