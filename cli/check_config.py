"""`bayaffairs check-config`: validate every config file and adapter block, then summarise."""

from __future__ import annotations

import argparse
import sys
from collections import Counter

from bayaffairs.cli.context import config_or_exit
from bayaffairs.config import ConfigError
from bayaffairs.db.database import redact
from bayaffairs.wiring.root import load_adapters


def run(args: argparse.Namespace) -> None:
    config = config_or_exit()
    try:
        adapters = load_adapters(config)
    except ConfigError as exc:
        print(f"bayaffairs: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    kinds = Counter(a.kind for a in adapters.instances.values())
    s = config.settings
    print(f"config: {config.directory} (profile: {s.profile or 'none'})")
    print(f"database: {redact(s.database.url)}   redis: {redact(s.redis.url)}")
    print(f"{len(config.jurisdictions)} jurisdictions, {len(config.cities)} cities")
    print(
        f"{len(adapters.instances)} adapters enabled: "
        + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    )
    print("ok")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check-config", help="validate the configuration and print a summary")
    p.set_defaults(run=run, sync=True)
