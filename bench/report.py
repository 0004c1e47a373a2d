"""The run as a table for people and as JSON for later comparison."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.runner import Row, Run

NOISE = (
    "This VM is noisy (2 shared vCPUs, CPU steal; repeats of one test differ by 20-30%): compare the "
    "ratios within one run, not req/s across runs, and repeat a surprising row with --only."
)
BUSY_OTHER = 20.0  # % of one CPU used by processes outside the benchmark: above it, a row is suspect
CPU_COLUMNS = ("server", "postgres", "redis", "wrk", "other", "untracked", "idle", "steal")
HEADERS = ("scenario", "req/s", "p50 ms", "p99 ms", "sock err/non-2xx", "vs baseline", "note", "what")


def _aim(row: Row, run: Run) -> str | None:
    """'aim met' or what missed it, for rows with an Aim (the issue's targets)."""
    aim = row.scenario.aim
    base = run.baseline_rps
    if aim is None:
        return None
    missed = []
    if aim.min_ratio is not None and base and row.result.requests_per_second / base < aim.min_ratio:
        missed.append(f"< {aim.min_ratio:.2f}x")
    if aim.max_p99_ms is not None and row.result.p99_ms >= aim.max_p99_ms:
        missed.append(f"p99 >= {aim.max_p99_ms:.0f} ms")
    wanted = []
    if aim.min_ratio is not None:
        wanted.append(f">= {aim.min_ratio:.2f}x")
    if aim.max_p99_ms is not None:
        wanted.append(f"p99 < {aim.max_p99_ms:.0f} ms")
    return f"aim {', '.join(wanted)}: " + (f"MISSED ({', '.join(missed)})" if missed else "met")


def _cells(row: Row, run: Run, label: str | None = None) -> list[str]:
    r = row.result
    base = run.baseline_rps
    notes = [row.scenario.note] if row.scenario.note else []
    reference = _reference(row, run)
    if reference is not None and r.requests_per_second > 0:
        extra = 1e6 / r.requests_per_second - 1e6 / reference.result.requests_per_second
        notes.append(f"{extra:+.0f} µs/req vs {reference.scenario.name}")
        if row.scenario.aim is not None and row.scenario.aim.max_p99_ms is not None:
            notes.append(f"p99 {reference.result.p99_ms:.2f} ms without")
    aim = _aim(row, run)
    if aim:
        notes.append(aim)
    notes += [f"CHECK: {p}" for p in row.assessment.problems]
    if (r.errors or r.non_2xx) and not row.scenario.note:
        notes.append("CHECK: errors")
    return [
        label or row.scenario.name,
        f"{r.requests_per_second:,.0f}",
        f"{r.p50_ms:.2f}",
        f"{r.p99_ms:.2f}",
        f"{r.errors}/{r.non_2xx}",
        f"{ratio:.2f}x" if (ratio := _ratio(row, base)) is not None else "-",
        "; ".join(notes),
        row.scenario.what,
    ]


def _ratio(row: Row, base: float | None) -> float | None:
    """The row's req/s over the baseline's. A driven row's requests are batches, or a load wrk's
    baseline is no yardstick for: its ratio is its own `ratio_to_baseline` figure (a baseline it
    measured alike, as `burst` does), else none."""
    if row.scenario.driver is not None:
        return row.assessment.figures.get("ratio_to_baseline")
    return row.result.requests_per_second / base if base else None


def _reference(row: Row, run: Run) -> Row | None:
    name = row.scenario.compare_to
    return next((r for r in run.rows if r.scenario.name == name), None) if name else None


def _table(
    rows: list[list[str]], headers: tuple[str, ...] = HEADERS, right: range = range(1, 6)
) -> list[str]:
    widths = [max(len(r[i]) for r in [list(headers), *rows]) for i in range(len(headers))]

    def line(cells: list[str] | tuple[str, ...]) -> str:
        parts = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    return [line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def _cpu_table(run: Run) -> list[str]:
    """Who used the CPUs while each row was measured: a server near 100% per worker is the limit;
    much less means it waited on PostgreSQL, Redis, or lost the CPU to wrk or other work."""
    rows = []
    labelled = [(f"baseline #{i}", b) for i, b in enumerate(run.baselines, 1)]
    for label, row in [*labelled, *((r.scenario.name, r) for r in run.rows)]:
        if row.cpu:
            rows.append([label, *(f"{row.cpu.get(who, 0.0):.0f}" for who in CPU_COLUMNS)])
    if not rows:
        return []
    cpus = int(run.machine["cpus"])
    title = f"CPU while measuring, in % of one CPU ({cpus} CPUs = {100 * cpus}):"
    return [title, *_table(rows, ("scenario", *CPU_COLUMNS), range(1, len(CPU_COLUMNS) + 1))]


def _figures(run: Run) -> list[str]:
    """The rows' own findings (counts of open and deny, taps/s, drain rate, PNG codes/s), each
    with the in-process limit it is compared to, measured in the same run."""
    lines = []
    for row in run.rows:
        if row.assessment.notes:
            lines.append(f"  {row.scenario.name}:")
            lines += [f"    {note}" for note in row.assessment.notes]
    return ["", "Scenario figures:", *lines] if lines else []


def render(run: Run, command: str) -> str:
    s = run.settings
    m = run.machine
    loops = run.loops()
    out = [
        f"bayaffairs bench, {run.started_at:%Y-%m-%d %H:%M} UTC: {m['cpus']} CPUs ({m['cpu_model']}), "
        f"Python {m['python']}; load average at start {m['load_average_at_start']}; "
        f"code {m.get('code', 'unknown')}",
        f"wrk -t{s.threads} -c{s.connections} --latency: {s.warmup} s warm-up, then {s.duration} s measured "
        f"per row; {s.workers} worker process(es) per server; event loop: "
        + ", ".join(f"{side} {loop}" for side, loop in loops.items()),
    ]
    if s.service_env:
        out.append("service settings over the variants': " + ", ".join(f"{k}={v}" for k, v in s.service_env))
    busy = [
        (r.cpu.get("other", 0.0) + r.cpu.get("untracked", 0.0), r.scenario.name)
        for r in [*run.baselines, *run.rows]
    ]
    if busy and max(busy)[0] > BUSY_OTHER:
        out.append(
            f"WARNING: other processes used {max(busy)[0]:.0f}% of a CPU while measuring {max(busy)[1]} "
            "(see 'other' and 'untracked' below): that row, at least, is low"
        )
    if len(set(loops.values())) > 1:
        out.append(
            "WARNING: the baseline and the service ran on different event loops: the ratios are unfair"
        )
    if run.baselines:
        runs = [b.result.requests_per_second for b in run.baselines]
        spread = (max(runs) - min(runs)) / (sum(runs) / len(runs)) * 100
        out.append(
            "baseline (bare aiohttp GET /json): "
            + ", ".join(f"{v:,.0f}" for v in runs)
            + f" req/s (first, last) -> mean {run.baseline_rps:,.0f}; the two differ by {spread:.0f}%"
        )
    out += [NOISE, ""]
    rows = [_cells(b, run, f"baseline #{i}") for i, b in enumerate(run.baselines, 1)]
    rows += [_cells(r, run) for r in run.rows if not r.scenario.separate]
    out += _table(rows)
    separate = [_cells(r, run) for r in run.rows if r.scenario.separate]
    if separate:
        out += ["", "Settings measured separately (each on its own server start):", *_table(separate)]
    out += _figures(run)
    out += ["", *_cpu_table(run)]
    out += ["", f"Reproduce: {command}"]
    return "\n".join(out)


def _row_json(row: Row, run: Run) -> dict[str, Any]:
    r = row.result
    base = run.baseline_rps
    return {
        "scenario": row.scenario.name,
        "what": row.scenario.what,
        "variant": row.scenario.variant.name if row.scenario.target == "service" else None,
        "requests_per_second": r.requests_per_second,
        "p50_ms": r.p50_ms,
        "p99_ms": r.p99_ms,
        "requests": r.requests,
        "non_2xx": r.non_2xx,
        "socket_errors": dict(r.socket_errors),
        "ratio_to_baseline": _ratio(row, base),
        "cpu_percent_of_one_cpu": row.cpu,
        "counters": dict(r.counters),
        "figures": row.assessment.figures,
        "notes": row.assessment.notes,
        "problems": row.assessment.problems,
        "aim": _aim(row, run),
        "event_loop": row.loop,
        "wrk_command": row.command,
    }


def write_json(run: Run, command: str, path: Path) -> None:
    s = run.settings
    data = {
        "started_at": run.started_at.isoformat(),
        "command": command,
        "settings": {
            "duration_s": s.duration,
            "warmup_s": s.warmup,
            "connections": s.connections,
            "threads": s.threads,
            "workers": s.workers,
            "service_env": dict(s.service_env),
        },
        "machine": run.machine,
        "event_loops": run.loops(),
        "baseline_mean_rps": run.baseline_rps,
        "baselines": [_row_json(b, run) for b in run.baselines],
        "rows": [_row_json(r, run) for r in run.rows],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
