"""`bayaffairs gate simulate IMAGE`: the gate path from a QR image, offline or online."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bayaffairs.cli.context import CommandError, instant
from bayaffairs.gate.simulate import SimulationError, simulate


async def run(args: argparse.Namespace) -> None:
    token = args.token or args.environ.get("BAYAFFAIRS_GATE_TOKEN")
    if not token:
        raise CommandError("a gate token is needed: --token or BAYAFFAIRS_GATE_TOKEN", status=2)
    try:
        result = await simulate(
            Path(args.image),
            base_url=args.api,
            token=token,
            gate_id=args.gate_id,
            station=args.station,
            direction=args.direction,
            online=args.online,
            upload=args.upload,
            store=Path(args.store) if args.store else None,
            at=args.at,
        )
    except SimulationError as exc:
        raise CommandError(str(exc), status=2) from exc
    print(json.dumps(result, ensure_ascii=False))


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gate", help="gate tools")
    actions = p.add_subparsers(dest="action", required=True)
    s = actions.add_parser("simulate", help="decode a QR image and validate it as a gate would")
    s.add_argument("image", help="a PNG or JPEG with the rider's QR code")
    s.add_argument("--api", default="http://localhost:8080", help="the service's base URL")
    s.add_argument("--token", help="a gate token (or BAYAFFAIRS_GATE_TOKEN)")
    s.add_argument("--station", required=True, help="the station or route id the gate stands at")
    s.add_argument("--direction", choices=("in", "out"), default="in")
    s.add_argument("--gate-id", default="simulated-gate")
    s.add_argument("--online", action="store_true", help="ask the service instead of deciding offline")
    s.add_argument("--upload", action="store_true", help="offline: upload the tap afterwards")
    s.add_argument("--store", help="offline: the gate's memory file (SQLite); default a scratch file")
    s.add_argument(
        "--at",
        type=instant,
        help="the gate's time, RFC 3339 with offset (default: now), to try a code as of then",
    )
    s.set_defaults(run=run)
