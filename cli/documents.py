"""`bayaffairs documents refingerprint`: every stored document fingerprint under the current
`[secrets] fingerprint_keys` key (the last step of rotating it; README: Rotating the fingerprint
key), with the copies appointments and passengers keep."""

from __future__ import annotations

import argparse

from bayaffairs.cli.context import config_or_exit, wired


async def refingerprint(args: argparse.Namespace) -> None:
    config = config_or_exit(args.environ)
    async with wired(config) as wiring:
        documents = wiring.services.documents
        done = await documents.refingerprint(batch=args.batch)
        key_id = documents.cipher.fingerprint_key_id
    print(
        f"{done.documents} documents read, {done.changed} fingerprints now under {key_id}"
        f" ({done.appointments} appointments and {done.passengers} passengers follow);"
        f" {done.duplicates} kept their fingerprint: another document of the rider's is that one"
    )


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("documents", help="riders' documents: fingerprints")
    actions = p.add_subparsers(dest="action", required=True)
    r = actions.add_parser(
        "refingerprint",
        help="rewrite every document fingerprint under the first [secrets] fingerprint_keys key",
    )
    r.add_argument("--batch", type=int, default=500, help="documents per transaction (default 500)")
    r.set_defaults(run=refingerprint)
