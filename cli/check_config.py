"""`bayaffairs check-config`: validate every config file and adapter block, then summarise; in
production, also refuse demo secrets, fallbacks and demo adapters (one line each, status 2)."""

from __future__ import annotations

import argparse
import sys
from collections import Counter

from bayaffairs.cli.context import config_or_exit, production_report, profile_said, refuse_unsafe
from bayaffairs.config import ConfigError
from bayaffairs.db.database import redact
from bayaffairs.wiring.root import load_adapters


def run(args: argparse.Namespace) -> None:
    config = config_or_exit(args.environ, announce=False)
    try:
        adapters = load_adapters(config)
    except ConfigError as exc:
        print(f"bayaffairs: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    kinds = Counter(a.kind for a in adapters.instances.values())
    s = config.settings
    print(f"config: {config.directory}")
    print(profile_said(config, args.environ).replace("profile ", "profile: ", 1))
    if s.profile is None:
        print("  (scripts/run serves the demo profile: `BAYAFFAIRS_PROFILE=demo bayaffairs check-config`)")
    print(f"database: {redact(s.database.url)}   redis: {redact(s.redis.url)}")
    print(f"{len(config.jurisdictions)} jurisdictions, {len(config.cities)} cities")
    print(
        f"{len(adapters.instances)} adapters enabled: "
        + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    )
    report = production_report(config)
    print("production checks:")
    for line in report.checked:
        print(f"  {line}")
    sys.stdout.flush()
    refuse_unsafe(config, report)
    print("ok")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check-config",
        help="validate the configuration, print a summary; in production refuse demo secrets and adapters",
    )
    p.set_defaults(run=run, sync=True)
