"""`bayaffairs seed --demo`: demo data for trying the service; safe to run again.

Demo credentials are random, made once per database: the run that makes them prints their tokens
(the database keeps only hashes), a later run names them by id, and `--reissue` revokes them and
prints new ones. Nothing about them can be derived from the repository.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from tqdm import tqdm

from bayaffairs.appointments.model import Centre
from bayaffairs.appointments.slots import day_starts, local_today
from bayaffairs.cli.context import CommandError, config_or_exit, instant, wired
from bayaffairs.clock import Clock, FixedClock, SystemClock
from bayaffairs.config import Config
from bayaffairs.credentials import DEMO_ID_PREFIX
from bayaffairs.db.queries import users as users_q
from bayaffairs.documents.service import NewDocument
from bayaffairs.errors import DomainError
from bayaffairs.wiring.root import Wiring
from bayaffairs.wiring.services import Services

REISSUE = "bayaffairs seed --demo --reissue"


@dataclass
class SeedContext:
    """`made`: credentials made by this run, with their tokens; `kept`: those made before (ids)."""

    wiring: Wiring
    reissue: bool = False
    made: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    printed: list[str] = field(default_factory=list)

    @property
    def config(self) -> Config:
        return self.wiring.config

    @property
    def services(self) -> Services:
        return self.wiring.services

    async def demo_credential(self, kind: str, scope: str, note: str) -> None:
        """The demo credential of `kind` for `scope`: kept when there is an active one (unless
        reissuing, which revokes it), else made with a random secret and the kind's lifetime."""
        credentials = self.services.credentials
        prefix = f"{DEMO_ID_PREFIX}_{kind}"
        listed = await credentials.list(kind=kind)
        for legacy in (c for c in listed if c.id == prefix):
            # Seeded by an older version, with a token derived from the committed demo key.
            await credentials.revoke(legacy.id)
            self.printed.append(f"(revoked {legacy.id}: its token could be derived from the repository)")
        active = [c for c in listed if c.id.startswith(f"{prefix}_") and c.scope == scope]
        if active and not self.reissue:
            for c in active:
                self.kept.append(f"{kind:9} {scope:20} {c.id}   ({note}; expires {c.expires_at:%Y-%m-%d})")
            return
        for c in active:
            await credentials.revoke(c.id)
        issued = await credentials.issue(kind, scope, label="demo", id_prefix=prefix)
        self.made.append(f"{kind:9} {scope:20} {issued.token}   ({note})")


SeedStep = Callable[[SeedContext], Awaitable[None]]
DEMO_PROFILES = ("demo", "test")


async def _admin(ctx: SeedContext) -> None:
    await ctx.demo_credential("admin", "all", "admin endpoints /v1/admin/*")


# Scopes the demo prefers when the config has them (else the first there is).
PREFERRED = {"gate": "shenzhen_metro", "operator": "shenzhen_metro", "counter": "hengqin_gasc"}


async def _scoped_devices(ctx: SeedContext) -> None:
    """A gate and an operator token for a transit operator, a carrier token for a carrier and a
    counter token for a centre, when the config has them."""
    for kind in ("gate", "operator", "carrier", "counter"):
        scopes = sorted(ctx.services.directory.scopes(kind))
        if scopes:
            preferred = PREFERRED.get(kind)
            scope = preferred if preferred in scopes else scopes[0]
            await ctx.demo_credential(kind, scope, f"{kind} of {scope}")


async def _issuer_keys(ctx: SeedContext) -> None:
    """A signing key for every issuer that has none yet (ride codes, tickets, appointments)."""
    keys = ctx.services.transit.issuer_keys
    signing = {k.issuer for k in await keys.all() if k.signing}
    for issuer in ctx.config.settings.signing.issuers:
        if issuer not in signing:
            await keys.rotate(issuer)


async def _demo_rider(ctx: SeedContext) -> None:
    """The rider `demo-rider` of the dev sign-in, with an HKD wallet, when dev sign-in is on."""
    if not any(b.module == "dev" and b.enabled for b in ctx.config.adapter_blocks):
        return
    now = ctx.wiring.clock.now()
    async with ctx.wiring.db.transaction() as conn:
        if await users_q.find_by_identity(conn, "dev", "demo-rider") is None:
            user = await users_q.insert(
                conn, id="usr_demo_rider", display_name="Demo Rider", category="adult", at=now
            )
            await users_q.link_identity(conn, provider="dev", subject="demo-rider", user_id=user.id, at=now)
            await users_q.set_wallet(conn, user.id, currency="HKD", provider="demo", at=now)


async def _travel_departures(ctx: SeedContext) -> None:
    """Departures of every border carrier for `travel.days_ahead` days (the app does the same
    at start; seeding first lets `GET /v1/travel/departures` answer before any server ran)."""
    await ctx.services.travel.departures.materialise()


DEMO_CENTRE = "hengqin_gasc"
# (service, which of its slots of the day): a handful at the Hengqin centre, one per service so
# the per-rider limits (1 or 2 per service) leave room for a rider who tries booking by hand.
DEMO_APPOINTMENTS = (
    ("mo_commercial_registration", 0),
    ("mo_social_insurance", 3),
    ("mo_notarisation", 4),
    ("mo_trademark_registration", 8),
    ("mo_food_premises_licence", 12),
)
# Whom they are for: the demo rider and two family members, each by a Macao ID (DEMO numbers),
# two appointments a person (Macao's quota is 2 a day per department and person).
DEMO_FAMILY = (
    ("CHAN Tai Man", "1234567(8)"),
    ("CHAN Siu Ming", "5234567(1)"),
    ("WONG Mei Ling", "7234567(3)"),
)


def demo_day(centre: Centre, services: list[str], now: datetime, starts: StartsOf) -> tuple[date, str]:
    """Today in the centre's zone while a demo service still has a slot ahead today (a working
    day, before its opening hours end), else the next working day; and which it is, in words."""
    today = local_today(centre, now)
    if any(s > now for service in services for s in starts(service, today)):
        return today, "today"
    day = today + timedelta(days=1)
    while day in centre.closed_days or not centre.hours.get(day.weekday()):
        day += timedelta(days=1)
    open_today = today not in centre.closed_days and centre.hours.get(today.weekday())
    why = "today's opening hours are over" if open_today else "the centre is closed today"
    return day, f"the next working day: {why}"


StartsOf = Callable[[str, date], list[datetime]]


async def _demo_appointments(ctx: SeedContext) -> None:
    """The demo rider's appointments at the Hengqin centre today (its zone), at slots still ahead
    within its opening hours, or on its next working day when today has none left; booked as
    the API does (seats, change numbers; no consent or transfer record, as Hengqin's data stays
    in Macao), so a counter pulling that day sees them and can check them in by their QR at
    once. Appointments the rider already holds there are left alone: a second run adds nothing."""
    async with ctx.wiring.db.acquire() as conn:
        rider = await users_q.find_by_identity(conn, "dev", "demo-rider")
    appointments, clock = ctx.services.appointments, ctx.wiring.clock
    if rider is None or DEMO_CENTRE not in appointments.catalogue.centres:
        return
    centre = appointments.catalogue.centre(DEMO_CENTRE)
    now = clock.now()

    def starts(service_id: str, day: date) -> list[datetime]:
        service = appointments.catalogue.service(service_id)
        return [s for s in day_starts(centre, service, day) if s > now]

    day, which = demo_day(centre, [service for service, _ in DEMO_APPOINTMENTS], now, starts)
    mine = await appointments.booking.list(rider.id, cursor=None, limit=100)
    held = {(a.service_id, a.start) for a in mine.items}  # whatever became of them since
    if centre.data_stays_in is None:  # the data would go to the centre: the consent first
        await ctx.services.consents.give(rider.id, centre.region, "appointment")  # kept if given
    documents = ctx.services.documents
    family = {d.holder_name: d.id for d in (await documents.list(rider.id, cursor=None, limit=100)).items}
    for i, (name, number) in enumerate(DEMO_FAMILY):
        if name not in family:
            expires = now.date().replace(month=1, day=1) + timedelta(days=5 * 366)
            holder = "self" if i == 0 else "other"  # the rider's own, then the family members'
            document = NewDocument("macao_id", name, number, "MO", expires, holder=holder)
            family[name] = (await documents.add(rider.id, document)).id
        if i:  # a family member's data goes to the centre on a consent given on their behalf
            await ctx.services.consents.give(rider.id, centre.region, "appointment", family[name])
    booked = 0
    for i, (service_id, index) in enumerate(DEMO_APPOINTMENTS):
        applicant = family[DEMO_FAMILY[i // 2][0]]
        free = starts(service_id, day)
        if not free:
            ctx.printed.append(f"(demo appointment {service_id} skipped: no slot left on {day.isoformat()})")
            continue
        start = free[min(index, len(free) - 1)]
        if any(service == service_id and s.astimezone(centre.zone).date() == day for service, s in held):
            continue
        try:
            await appointments.booking.book(rider.id, centre.id, service_id, start, applicant, same_day=True)
        except DomainError as exc:  # full, or the rider's limit: a demo does without that one
            ctx.printed.append(f"(demo appointment {service_id} at {start:%H:%M} skipped: {exc.code})")
            continue
        booked += 1
    ctx.printed.append(
        f"demo appointments at {centre.id} on {day.isoformat()} ({which}): {booked} new; the counter"
        f" sees them at GET /v1/counter/appointments?date={day.isoformat()} (or in /console/)"
    )


STEPS: tuple[SeedStep, ...] = (
    _admin,
    _scoped_devices,
    _issuer_keys,
    _demo_rider,
    _travel_departures,
    _demo_appointments,
)


async def run(args: argparse.Namespace) -> None:
    if not args.demo:
        raise CommandError("only demo data can be seeded: pass --demo", status=2)
    config = config_or_exit(args.environ)
    if config.settings.profile not in DEMO_PROFILES:
        raise CommandError(
            f"seed --demo runs only in the demo or test profile, not in {config.settings.profile_name}"
            " (BAYAFFAIRS_PROFILE=demo, as scripts/run sets it)",
            status=2,
        )
    clock: Clock = FixedClock(args.at) if args.at else SystemClock()
    async with wired(config, clock=clock) as wiring:
        ctx = SeedContext(wiring, reissue=args.reissue)
        for step in tqdm(STEPS, desc="seed", unit="step", disable=args.quiet):
            await step(ctx)
    print("demo data ready.")
    if ctx.made:
        print(
            "Demo credentials made now, for this database only (Authorization: Bearer <token>); shown"
            " this once, the database keeps only their hashes:"
        )
        for line in ctx.made:
            print("  " + line)
    if ctx.kept:
        print("Demo credentials made before (their tokens were printed then and are kept nowhere):")
        for line in ctx.kept:
            print("  " + line)
        print(
            f"  new tokens for them: {REISSUE} (revokes these); their ids: bayaffairs credentials list --demo"
        )
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
    p.add_argument(
        "--reissue",
        action="store_true",
        help="revoke the demo credentials and print new tokens (a run without it prints only their ids)",
    )
    p.add_argument(
        "--at",
        type=instant,
        help="seed as of this time, RFC 3339 with offset (default: now): the demo's departures are"
        " those of the days after it, its appointments those of that day (or the next working day)",
    )
    p.set_defaults(run=run)
