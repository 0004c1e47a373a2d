"""`bayaffairs settlement close --date D`: close operators' days (each day closes by itself at
`settlement_close` too); `bayaffairs settlement run --date D`: write each operator's file."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from datetime import date
from pathlib import Path

from tqdm import tqdm

from bayaffairs.cli.context import CommandError, config_or_exit, wired
from bayaffairs.errors import Conflict


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--date: {text!r} is not YYYY-MM-DD", status=2) from None


def _operators(args: argparse.Namespace, known: Mapping[str, object]) -> list[str]:
    operators: list[str] = args.operator or sorted(known)
    unknown = [o for o in operators if o not in known]
    if unknown:
        raise CommandError(f"unknown operator(s): {', '.join(unknown)}", status=2)
    return operators


async def close(args: argparse.Namespace) -> None:
    config = config_or_exit(args.environ)
    day = _day(args.date)
    async with wired(config) as wiring:
        settlements = wiring.services.transit.settlements
        for operator in _operators(args, wiring.services.transit.network.operators):
            try:
                closed = await settlements.close(operator, day)
            except Conflict as exc:
                raise CommandError(f"{operator}: {day} is not over yet in its time zone", status=2) from exc
            if args.quiet:
                continue
            if not closed:
                print(f"{operator}: {day} was closed already")
            for done in closed:
                print(
                    f"{operator} {done.day}: closed, {done.lines} lines, {done.adjustments} adjustments,"
                    f" sha256 {done.checksum}"
                )


async def run(args: argparse.Namespace) -> None:
    config = config_or_exit(args.environ)
    day = _day(args.date)
    async with wired(config) as wiring:
        settlements = wiring.services.transit.settlements
        operators = _operators(args, wiring.services.transit.network.operators)
        for operator in tqdm(operators, desc="settlement", unit="operator", disable=args.quiet):
            path = _file(Path(args.out), f"{operator}-{day.isoformat()}.csv")
            with path.open("wb") as out:  # a batch job's local file, written a page at a time
                async for chunk in settlements.csv(operator, day):
                    out.write(chunk)
            if not args.quiet:
                tqdm.write(str(path))


def _file(folder: Path, name: str) -> Path:
    """A local folder for a batch job's files, not a server's."""
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("settlement", help="operators' daily settlement files")
    actions = p.add_subparsers(dest="action", required=True)
    c = actions.add_parser("close", help="close the day (and any earlier day still open) for each operator")
    c.add_argument("--date", required=True, help="the operators' local day, YYYY-MM-DD")
    c.add_argument("--operator", action="append", help="only this operator (repeatable)")
    c.add_argument("--quiet", action="store_true")
    c.set_defaults(run=close)
    r = actions.add_parser("run", help="write <operator>-<date>.csv for each operator (open or closed)")
    r.add_argument("--date", required=True, help="the operators' local day, YYYY-MM-DD")
    r.add_argument("--operator", action="append", help="only this operator (repeatable)")
    r.add_argument("--out", default="settlements", help="folder for the files")
    r.add_argument("--quiet", action="store_true")
    r.set_defaults(run=run)
