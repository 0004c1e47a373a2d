"""`bayaffairs credentials issue|list|revoke`: device, staff and admin tokens."""

from __future__ import annotations

import argparse
import json
from datetime import timedelta

from bayaffairs.cli.context import CommandError, config_or_exit, wired
from bayaffairs.credentials import DEMO_ID_PREFIX, ISSUABLE_KINDS, Credential
from bayaffairs.errors import DomainError, InvalidInput


def _explain(exc: DomainError) -> str:
    if isinstance(exc, InvalidInput):
        fields = exc.details.get("fields", {})
        return "; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items())
    return exc.code


async def issue(args: argparse.Namespace) -> None:
    config = config_or_exit(args.environ)
    async with wired(config) as wiring:
        service = wiring.services.credentials
        # Clamped only so that timedelta takes it: the service refuses anything beyond the kind's limit.
        days = None if args.ttl_days is None else max(-1, min(args.ttl_days, 100_000))
        ttl = timedelta(days=days) if days is not None else None
        try:
            issued = await service.issue(
                args.kind,
                args.scope,
                label=args.label,
                ttl=ttl,
                gate_id=args.gate,
                stations=args.stations.split(",") if args.stations is not None else None,
            )
        except DomainError as exc:
            raise CommandError(_explain(exc), status=2) from exc
    c = issued.credential
    if args.json:
        print(
            json.dumps(
                {
                    "id": c.id,
                    "token": issued.token,
                    "kind": c.kind,
                    "scope": c.scope,
                    "expires_at": c.expires_at.isoformat(),
                    "gate_id": c.gate_id,
                    "stations": None if c.stations is None else list(c.stations),
                }
            )
        )
    else:
        print(
            f"issued {c.kind} credential {c.id} for {c.scope}{_binding(c, ' ')}, "
            f"expires {c.expires_at:%Y-%m-%d %H:%M %Z}"
        )
        print(f"token (shown once, store it now): {issued.token}")


async def list_(args: argparse.Namespace) -> None:
    config = config_or_exit(args.environ)
    async with wired(config) as wiring:
        service = wiring.services.credentials
        items = await service.list(kind=args.kind, include_inactive=args.all)
    if args.demo:
        items = [c for c in items if c.id.startswith(f"{DEMO_ID_PREFIX}_")]
    if args.json:
        print(
            json.dumps(
                [
                    {
                        **{
                            k: (v.isoformat() if hasattr(v, "isoformat") else v)
                            for k, v in c.__dict__.items()
                        },
                        "operator_wide": c.operator_wide,
                    }
                    for c in items
                ]
            )
        )
        return
    print(f"{'ID':44} {'KIND':9} {'SCOPE':24} {'EXPIRES':17} {'STATE':8} {'GATE':32} LABEL")
    for c in items:
        state = "revoked" if c.revoked_at else "active"
        gate = _binding(c) or "-"
        expires = f"{c.expires_at:%Y-%m-%d %H:%M}"
        print(f"{c.id:44} {c.kind:9} {c.scope:24} {expires:17} {state:8} {gate:32} {c.label or ''}")
    if args.demo:
        print(
            "Tokens are printed only when made (`seed --demo`); the database keeps their hashes."
            " New tokens for these: bayaffairs seed --demo --reissue (revokes them)."
        )


def _binding(c: Credential, before: str = "") -> str:
    """What a gate credential may speak for: one gate (at some stations), or every gate of its
    operator (OPERATOR-WIDE: for tests and demos; production gates get a token each)."""
    if c.kind != "gate":
        return ""
    if c.gate_id is None:
        return f"{before}OPERATOR-WIDE"
    at = f" at {','.join(c.stations)}" if c.stations else ""
    return f"{before}gate {c.gate_id}{at}"


async def revoke(args: argparse.Namespace) -> None:
    config = config_or_exit(args.environ)
    async with wired(config) as wiring:
        service = wiring.services.credentials
        try:
            c = await service.revoke(args.id)
        except DomainError as exc:
            raise CommandError(f"no credential {args.id}", status=2) from exc
    print(f"revoked {c.kind} credential {c.id} ({c.scope})")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("credentials", help="issue, list and revoke device, staff and admin tokens")
    actions = p.add_subparsers(dest="action", required=True)
    i = actions.add_parser("issue", help="issue a token (printed once)")
    i.add_argument("kind", choices=ISSUABLE_KINDS)
    i.add_argument(
        "scope", help='operator id (gate, operator), carrier id, centre id (counter), or "all" (admin)'
    )
    i.add_argument("--label", help="a note, e.g. the gate's location")
    i.add_argument(
        "--gate", metavar="GATE_ID", help="gate: bind the token to this gate id (else it serves every gate)"
    )
    i.add_argument("--stations", metavar="ID,...", help="gate: and to these stations of its operator")
    i.add_argument(
        "--ttl-days",
        type=int,
        help="lifetime in days, 1 up to the kind's [auth.token_ttl_days] (the default)",
    )
    i.add_argument(
        "--json",
        action="store_true",
        help='print {"id", "token", "kind", "scope", "expires_at", "gate_id", "stations"}',
    )
    i.set_defaults(run=issue)
    ls = actions.add_parser("list", help="list credentials (never tokens)")
    ls.add_argument("--kind", choices=ISSUABLE_KINDS)
    ls.add_argument("--all", action="store_true", help="include revoked and expired ones")
    ls.add_argument(
        "--demo", action="store_true", help="only the demo data's (seed --demo), and how to re-issue them"
    )
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(run=list_)
    r = actions.add_parser("revoke", help="revoke a credential by id")
    r.add_argument("id")
    r.set_defaults(run=revoke)
