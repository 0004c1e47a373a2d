"""Entry point of the `bayaffairs` command."""

from __future__ import annotations

import argparse
import asyncio
import inspect
import os
import sys
from collections.abc import Mapping

from bayaffairs.cli import (
    check_config,
    credentials,
    documents,
    gate,
    keys,
    migrate,
    retention,
    seed,
    serve,
    settlement,
)
from bayaffairs.cli.context import CommandError


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bayaffairs", description="Greater Bay Area services backend")
    sub = p.add_subparsers(dest="command", required=True)
    for module in (
        serve,
        migrate,
        seed,
        credentials,
        keys,
        documents,
        gate,
        settlement,
        retention,
        check_config,
    ):
        module.add_parser(sub)
    return p


def main(argv: list[str] | None = None, env: Mapping[str, str] | None = None) -> None:
    """The command in `argv` (else sys.argv), under the environment `env` (else the process's):
    commands read their environment from `args.environ`, never from os.environ, so that one run
    in a thread of another program (tests/commands.py) is given its own without the program's
    other threads seeing it."""
    args = parser().parse_args(argv)
    args.environ = os.environ if env is None else env
    try:
        result = args.run(args)
        if inspect.iscoroutine(result):
            asyncio.run(result)
    except CommandError as exc:
        print(f"bayaffairs: {exc}", file=sys.stderr)
        raise SystemExit(exc.status) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
