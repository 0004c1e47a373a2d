"""`bayaffairs retention [--dry-run]`: apply the retention table (`[privacy.retention]`) now, or
only report what is due, per kind of record. The service's periodic job does the same."""

from __future__ import annotations

import argparse
import json

from bayaffairs.cli.context import config_or_exit, wired
from bayaffairs.privacy.retention import RetentionReport


async def run(args: argparse.Namespace) -> None:
    config = config_or_exit(args.environ)
    async with wired(config) as wiring:
        report = await wiring.services.privacy.retention.run(dry_run=args.dry_run)
    print(as_json(report) if args.json else as_text(report))


def as_text(report: RetentionReport) -> str:
    head = "due now (dry run: nothing changed)" if report.dry_run else "done"
    lines = [f"retention at {report.at.isoformat()}: {head}"]
    width = max(len(k.kind) for k in report.kinds)
    for k in report.kinds:
        lines.append(f"  {k.kind:<{width}}  {k.action:<9}  {k.count:>8}   kept {k.keep_days} {k.keep}")
    lines.append(f"  {'total':<{width}}  {'':<9}  {report.total:>8}")
    return "\n".join(lines)


def as_json(report: RetentionReport) -> str:
    return json.dumps(
        {
            "at": report.at.isoformat(),
            "dry_run": report.dry_run,
            "kinds": [
                {
                    "kind": k.kind,
                    "action": k.action,
                    "keep_days": k.keep_days,
                    "keep": k.keep,
                    "count": k.count,
                }
                for k in report.kinds
            ],
            "total": report.total,
        },
        indent=2,
    )


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("retention", help="apply the retention table now (or --dry-run: report what is due)")
    p.add_argument("--dry-run", action="store_true", help="count what is due per kind; change nothing")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=run)
