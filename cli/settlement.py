"""`bayaffairs settlement run --date D`: write each operator's clearing file for a day."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from tqdm import tqdm

from bayaffairs.cli.context import CommandError, config_or_exit, wired


async def run(args: argparse.Namespace) -> None:
    config = config_or_exit()
    try:
        day = date.fromisoformat(args.date)
    except ValueError:
        raise CommandError(f"--date: {args.date!r} is not YYYY-MM-DD", status=2) from None
    async with wired(config) as wiring:
        transit = wiring.services.transit
        operators = args.operator or sorted(transit.network.operators)
        unknown = [o for o in operators if o not in transit.network.operators]
        if unknown:
            raise CommandError(f"unknown operator(s): {', '.join(unknown)}", status=2)
        for operator in tqdm(operators, desc="settlement", unit="operator", disable=args.quiet):
            result = await transit.settlements.day(operator, day)
            path = _write(Path(args.out), f"{operator}-{day.isoformat()}.csv", result.csv())
            if args.quiet:
                continue
            tqdm.write(
                f"{path}: {result.journeys} journeys, {result.total.amount} {result.currency} (minor units)"
            )


def _write(folder: Path, name: str, text: str) -> Path:
    """A short local file write; the command is a batch job, not a server."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("settlement", help="operators' daily clearing files")
    actions = p.add_subparsers(dest="action", required=True)
    r = actions.add_parser("run", help="write <operator>-<date>.csv for each operator")
    r.add_argument("--date", required=True, help="the operators' local day, YYYY-MM-DD")
    r.add_argument("--operator", action="append", help="only this operator (repeatable)")
    r.add_argument("--out", default="settlements", help="folder for the files")
    r.add_argument("--quiet", action="store_true")
    r.set_defaults(run=run)
