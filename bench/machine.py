"""What the numbers were measured on, and where the CPU went while each row was measured.

On 2 shared vCPUs the server, PostgreSQL, Redis and wrk compete for the same cores, and the VM
shows CPU steal; a per-row CPU split tells whether the server was saturated (about 100% of one
CPU per worker) or waiting on something else.
"""

from __future__ import annotations

import os
import platform
import resource
import time
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class CpuSnapshot:
    at: float
    system: list[int]
    processes: dict[int, tuple[str, int]]
    children_seconds: float


def _system_times() -> list[int]:
    """The aggregate `cpu` line of /proc/stat, in ticks; empty where there is no /proc."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0]
    except (OSError, IndexError):
        return []
    return [int(v) for v in first.split()[1:]]


def _process_times() -> dict[int, tuple[str, int]]:
    """pid -> (command name, user + system ticks) for every process visible in /proc."""
    found: dict[int, tuple[str, int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        found[int(entry.name)] = (name, int(fields[11]) + int(fields[12]))
    return found


def snapshot() -> CpuSnapshot:
    """Take before and after a wrk run; wrk itself is counted from the rusage of reaped children."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return CpuSnapshot(
        time.monotonic(), _system_times(), _process_times(), children.ru_utime + children.ru_stime
    )


def cpu_split(
    before: CpuSnapshot, after: CpuSnapshot, server_pids: set[int], load_pids: set[int] | None = None
) -> dict[str, float]:
    """CPU used in the interval, in % of one CPU (so up to 200 on 2 vCPUs), by who used it.

    `wrk` is every child the harness reaped in the interval (only wrk ends during a measurement),
    plus `load_pids`: load generators still running (wrk alongside) or the harness itself when
    it makes the load in Python.
    From /proc/stat: `idle`, `steal`, and `untracked`, busy time no listed process accounts for:
    processes that started and ended within the interval (another user's test run), and
    interrupts taken while no process ran.
    """
    elapsed = after.at - before.at
    if elapsed <= 0:
        return {}
    split = dict.fromkeys(("server", "postgres", "redis", "other", "wrk"), 0.0)
    for pid, (name, ticks) in after.processes.items():
        used = ticks - before.processes.get(pid, (name, 0))[1]
        if pid in server_pids:
            who = "server"
        elif load_pids and pid in load_pids:
            who = "wrk"
        elif name == "postgres":
            who = "postgres"
        elif name.startswith("redis-server"):
            who = "redis"
        else:
            who = "other"
        split[who] += used / _TICKS
    split["wrk"] += after.children_seconds - before.children_seconds
    if len(before.system) >= 8 and len(after.system) >= 8:
        # user nice system idle iowait irq softirq steal; guest time is already in user
        d = [(a - b) / _TICKS for a, b in zip(after.system[:8], before.system[:8], strict=True)]
        split["idle"] = d[3] + d[4]
        split["steal"] = d[7]
        busy = d[0] + d[1] + d[2] + d[5] + d[6]
        tracked = sum(split[who] for who in ("server", "postgres", "redis", "other", "wrk"))
        split["untracked"] = max(0.0, busy - tracked)
    return {who: 100.0 * seconds / elapsed for who, seconds in split.items()}


def describe() -> dict[str, str]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "load_average_at_start": " ".join(f"{v:.2f}" for v in os.getloadavg()),
        "cpus": str(os.cpu_count()),
        "cpu_model": model,
        "python": platform.python_version(),
        "kernel": platform.release(),
    }
