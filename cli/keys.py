"""`bayaffairs keys rotate|list|compromised`: the issuers' signing keys; `keys generate`: a key for
[secrets]."""

from __future__ import annotations

import argparse
import base64
import secrets
from datetime import UTC, datetime

from bayaffairs.cli.context import CommandError, config_or_exit, wired
from bayaffairs.documents.cipher import fingerprint_key_of
from bayaffairs.errors import DomainError
from bayaffairs.signing.keys import PublishedKey


async def rotate(args: argparse.Namespace) -> None:
    config = config_or_exit(args.environ)
    async with wired(config) as wiring:
        try:
            key = await wiring.services.transit.issuer_keys.rotate(args.issuer, now=args.now)
        except DomainError as exc:
            raise CommandError(
                f"{args.issuer}: {exc.details.get('fields', {}).get('issuer', [exc.code])[0]}", 2
            ) from exc
    if key.signing:
        print(f"{key.kid} now signs for {key.issuer} ({key.algorithm}); the key it replaced still verifies")
    else:
        print(
            f"{key.kid} is published now and signs from {key.not_before:%Y-%m-%d %H:%M %Z} for {key.issuer}"
            f" ({key.algorithm}); until then the current key signs (--now switches at once)"
        )
    print(f"public key: {base64.b64encode(key.public_key).decode()}")


async def list_(args: argparse.Namespace) -> None:
    config = config_or_exit(args.environ)
    async with wired(config) as wiring:
        keys = await wiring.services.transit.issuer_keys.all()
        now = wiring.clock.now()
    print(f"{'KID':24} {'ALG':8} {'SIGNS FROM':17} {'VERIFIES UNTIL':17} STATE")
    for k in keys:
        until = f"{k.valid_until:%Y-%m-%d %H:%M}" if k.valid_until else "-"
        starts = max(k.not_before or k.valid_from, k.valid_from)
        print(f"{k.kid:24} {k.algorithm:8} {starts:%Y-%m-%d %H:%M} {until:17} {_state(k, now)}")


def _state(key: PublishedKey, now: datetime) -> str:
    if key.compromised:
        return "compromised"
    if key.signing:
        return "signing"
    starts = key.not_before or key.valid_from
    if key.valid_until is not None and key.valid_until <= starts:
        return "withdrawn"  # replaced before its turn: it never signed
    return "staged" if starts > now else "retired"


async def compromised(args: argparse.Namespace) -> None:
    config = config_or_exit(args.environ)
    async with wired(config) as wiring:
        transit = wiring.services.transit
        try:
            key = await transit.issuer_keys.mark_compromised(args.kid)
        except DomainError as exc:
            raise CommandError(f"no key {args.kid}", 2) from exc
        await transit.deny_list.change("key", key.kid, "add", "compromised")  # gates learn it so
    print(
        f"{key.kid} marked compromised: it verifies nothing from now on;"
        f" run `keys rotate {key.issuer} --now` if it was signing"
    )


def generate(args: argparse.Namespace) -> None:
    """A new key for `[secrets] documents_keys` or `signing_keys`: 32 random bytes, printed as
    "keyid:base64" (nothing else is read or written)."""
    key_id = args.id or f"k{datetime.now(UTC):%Y%m%d}"
    if not key_id.isalnum() or len(key_id) > 16:
        raise CommandError(f"--id {key_id!r}: 1 to 16 letters and digits", 2)
    print(f"{key_id}:{base64.b64encode(secrets.token_bytes(32)).decode()}")


def fingerprint_key(args: argparse.Namespace) -> None:
    """The fingerprint key a `[secrets] documents_keys` key gave the documents' fingerprints
    (before they had a secret of their own): the first value of `fingerprint_keys`, so that
    setting it changes no fingerprint (`documents/cipher.py`). Prints "keyid:base64"."""
    config = config_or_exit(args.environ)
    keys = dict(config.settings.secrets.documents_keys)
    chosen = args.from_ or config.settings.secrets.documents_keys[0][0]
    if chosen not in keys:
        raise CommandError(f"--from {chosen}: no such key in [secrets] documents_keys ({', '.join(keys)})", 2)
    key_id, material = fingerprint_key_of((chosen, keys[chosen]))
    print(f"{key_id}:{base64.b64encode(material).decode()}")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("keys", help="issuers' signing keys")
    actions = p.add_subparsers(dest="action", required=True)
    r = actions.add_parser("rotate", help="stage a new signing key for an issuer (published before it signs)")
    r.add_argument("issuer", help="e.g. ride_codes, tickets, appointments (config [signing] issuers)")
    r.add_argument(
        "--now",
        action="store_true",
        help="sign with the new key at once (a compromise) instead of [signing] key_lead_hours from now",
    )
    r.set_defaults(run=rotate)
    ls = actions.add_parser("list", help="list keys and their state")
    ls.set_defaults(run=list_)
    c = actions.add_parser("compromised", help="stop a key verifying anything, at once")
    c.add_argument("kid")
    c.set_defaults(run=compromised)
    g = actions.add_parser(
        "generate",
        help="print a new random key for [secrets] documents_keys or signing_keys (keyid:base64)",
    )
    g.add_argument("--id", help="the key id: up to 16 letters and digits (default k<today, UTC>)")
    g.set_defaults(run=generate)
    f = actions.add_parser(
        "fingerprint-key",
        help="print the [secrets] fingerprint_keys value a documents key gave (set it before rotating)",
    )
    f.add_argument(
        "--from",
        dest="from_",
        metavar="KEY_ID",
        help="the documents_keys key the fingerprints were made under (default: the first)",
    )
    f.set_defaults(run=fingerprint_key)
