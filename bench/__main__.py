"""`python -m bench`: measure the service's hot paths against a bare aiohttp app (see README)."""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
from pathlib import Path

from bench import ROOT
from bench.processes import ProcessError
from bench.report import render, write_json
from bench.runner import Settings, run, say
from bench.scenarios import SCENARIOS, select


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="Load-test the service with wrk against a bare aiohttp app measured in the same run.",
        epilog="scenarios: " + ", ".join(s.name for s in SCENARIOS),
    )
    p.add_argument("--duration", type=int, default=10, help="seconds measured per scenario (default 10)")
    p.add_argument("--connections", type=int, default=64, help="wrk connections (default 64)")
    p.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    p.add_argument(
        "--warmup", type=int, default=3, help="seconds of load before each measurement (default 3)"
    )
    p.add_argument("--only", nargs="+", metavar="NAME", help="these scenarios (the baseline always runs)")
    p.add_argument("--workers", type=int, default=1, help="processes per server, both sides (default 1)")
    p.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON")
    p.add_argument("--fresh-db", action="store_true", help="drop and recreate bayaffairs_bench first")
    p.add_argument(
        "--service-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        type=_service_setting,
        help="a BAYAFFAIRS_* setting for every service start, over the variant's (repeatable), "
        "e.g. BAYAFFAIRS_RIDE_CODES_SCAN_WRITERS=8: tries a setting without editing config",
    )
    return p


def _service_setting(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.startswith("BAYAFFAIRS_"):
        raise argparse.ArgumentTypeError(f"expected BAYAFFAIRS_NAME=VALUE, got {text!r}")
    return name, value


def reproduce(args: argparse.Namespace) -> str:
    """The command line with every option spelled out, so a rerun does not depend on defaults."""
    python = Path(sys.executable)
    shown = python.relative_to(ROOT) if python.is_relative_to(ROOT) else python
    argv = [
        str(shown),
        "-m",
        "bench",
        "--duration",
        str(args.duration),
        "--connections",
        str(args.connections),
    ]
    argv += ["--threads", str(args.threads), "--warmup", str(args.warmup), "--workers", str(args.workers)]
    if args.only:
        argv += ["--only", *args.only]
    if args.fresh_db:
        argv.append("--fresh-db")
    for name, value in args.service_env:
        argv += ["--service-env", f"{name}={value}"]
    return shlex.join(argv)


def _stop_on_sigterm(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if min(args.duration, args.connections, args.threads, args.workers) < 1 or args.warmup < 0:
        parser().error("--duration, --connections, --threads and --workers must be at least 1")
    if args.connections < args.threads:
        parser().error("wrk needs at least one connection per thread")
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    settings = Settings(
        args.duration,
        args.connections,
        args.threads,
        args.warmup,
        args.workers,
        args.fresh_db,
        tuple(args.service_env),
    )
    try:
        result = run(settings, select(args.only))
    except KeyboardInterrupt:
        say("interrupted; every process the harness started has been stopped")
        return 130
    except ProcessError as exc:
        say(f"failed: {exc}")
        return 1
    command = reproduce(args)
    print(render(result, command))
    if args.json:
        write_json(result, command, args.json)
        say(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
