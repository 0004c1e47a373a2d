"""Entry point of the `bayaffairs` command."""

from __future__ import annotations

import argparse
import asyncio
import inspect
import sys

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


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
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
