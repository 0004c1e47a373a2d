"""`bayaffairs seed --demo`: demo data for trying the service; safe to run again.

Demo tokens are derived from the configured document key (HMAC), so every run of the same
deployment prints the same tokens, and no token is stored in clear anywhere.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

from tqdm import tqdm

from bayaffairs.adapters import registry
from bayaffairs.adapters.base import AdapterContext
from bayaffairs.cli.context import CommandError, config_or_exit, database
from bayaffairs.clock import SystemClock
from bayaffairs.config import Config
from bayaffairs.credentials import CredentialService
from bayaffairs.db.queries import users as users_q
from bayaffairs.directory import Directory
from bayaffairs.sealing import Sealer
from bayaffairs.signing.keys import IssuerKeys
from bayaffairs.storage import Database


@dataclass
class SeedContext:
    config: Config
    db: Database
    credentials: CredentialService
    printed: list[str] = field(default_factory=list)

    def demo_secret(self, credential_id: str) -> str:
        key = self.config.settings.secrets.documents_keys[0][1]
        digest = hmac.new(
            key, f"bayaffairs demo credential {credential_id}".encode(), hashlib.sha256
        ).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    async def demo_credential(self, credential_id: str, kind: str, scope: str, note: str) -> None:
        issued = await self.credentials.ensure_known(
            credential_id, kind, scope, self.demo_secret(credential_id), label="demo", ttl=timedelta(days=365)
        )
        self.printed.append(f"{kind:9} {scope:20} {issued.token}   ({note})")


SeedStep = Callable[[SeedContext], Awaitable[None]]


async def _admin(ctx: SeedContext) -> None:
    await ctx.demo_credential("crd_demo_admin", "admin", "all", "admin endpoints /v1/admin/*")


# Scopes the demo prefers when the config has them (else the first there is).
PREFERRED = {"gate": "shenzhen_metro", "operator": "shenzhen_metro"}


async def _scoped_devices(ctx: SeedContext) -> None:
    """A gate and an operator token for a transit operator, a carrier token for a carrier and a
    counter token for a centre, when the config has them."""
    adapters = registry.load(ctx.config.adapter_blocks, registry.discover(), AdapterContext(http=None))
    directory = Directory(ctx.config, adapters)
    for kind in ("gate", "operator", "carrier", "counter"):
        scopes = sorted(directory.scopes(kind))
        if scopes:
            preferred = PREFERRED.get(kind)
            scope = preferred if preferred in scopes else scopes[0]
            await ctx.demo_credential(f"crd_demo_{kind}", kind, scope, f"{kind} of {scope}")


async def _issuer_keys(ctx: SeedContext) -> None:
    """A signing key for every issuer that has none yet (ride codes, tickets, appointments)."""
    settings = ctx.config.settings
    keys = IssuerKeys(ctx.db, SystemClock(), settings.signing, Sealer(settings.secrets.signing_keys))
    signing = {k.issuer for k in await keys.all() if k.signing}
    for issuer in settings.signing.issuers:
        if issuer not in signing:
            await keys.rotate(issuer)


async def _demo_rider(ctx: SeedContext) -> None:
    """The rider `demo-rider` of the dev sign-in, with an HKD wallet, when dev sign-in is on."""
    if not any(b.module == "dev" and b.enabled for b in ctx.config.adapter_blocks):
        return
    now = SystemClock().now()
    async with ctx.db.transaction() as conn:
        if await users_q.find_by_identity(conn, "dev", "demo-rider") is None:
            user = await users_q.insert(
                conn, id="usr_demo_rider", display_name="Demo Rider", category="adult", at=now
            )
            await users_q.link_identity(conn, provider="dev", subject="demo-rider", user_id=user.id, at=now)
            await users_q.set_wallet(conn, user.id, currency="HKD", provider="demo", at=now)


STEPS: tuple[SeedStep, ...] = (_admin, _scoped_devices, _issuer_keys, _demo_rider)


async def run(args: argparse.Namespace) -> None:
    if not args.demo:
        raise CommandError("only demo data can be seeded: pass --demo", status=2)
    config = config_or_exit()
    async with database(config) as db:
        credentials = CredentialService(db, SystemClock(), config.settings.auth, lambda _kind: ())
        ctx = SeedContext(config, db, credentials)
        for step in tqdm(STEPS, desc="seed", unit="step", disable=args.quiet):
            await step(ctx)
    print("demo data ready. Demo credentials (Authorization: Bearer <token>):")
    for line in ctx.printed:
        print("  " + line)
    if any(b.module == "dev" and b.enabled for b in config.adapter_blocks):
        print(
            '  rider: POST /v1/auth/sessions {"provider": "dev", "code": "demo-rider"} gives a token of a'
            ' rider with an HKD wallet; then POST /v1/ride-codes {"city": "shenzhen"}'
        )


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("seed", help="load demo data (idempotent)")
    p.add_argument("--demo", action="store_true", help="the demo data set")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)
