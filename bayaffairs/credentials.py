"""Credentials: who is calling, of what kind, for which scope.

Every bearer token is `bya.<credential id>.<secret>`; the database keeps only SHA-256 of the
secret (the secret is 256 random bits, so a fast hash is enough). Tokens expire and can be
revoked. A worker trusts a verified token for `cache_seconds`; revoking through this service
drops it from that worker's cache at once, other workers notice within `cache_seconds`. A
credential id that does not exist is remembered as unknown for `negative_cache_seconds`, so a
made-up token sent again and again is read once (ids are random: a real one is never guessed
into that memory, and one this worker issues is taken out of it).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, get_args

from bayaffairs.clock import Clock
from bayaffairs.config.settings import AuthSettings
from bayaffairs.db.queries import credentials as q
from bayaffairs.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from bayaffairs.ids import new_id
from bayaffairs.storage import Database

# `display`: a hall screen of one centre; it reads GET /v1/counter/display and nothing else.
CredentialKind = Literal["rider", "gate", "operator", "carrier", "counter", "display", "admin"]
KINDS: tuple[CredentialKind, ...] = get_args(CredentialKind)
ISSUABLE_KINDS: tuple[CredentialKind, ...] = ("gate", "operator", "carrier", "counter", "display", "admin")
ADMIN_SCOPE = "all"
# Ids of the demo data's credentials (`seed --demo`): crd_demo_<kind>_<random>, random tokens.
DEMO_ID_PREFIX = "crd_demo"
TOKEN_PREFIX = "bya"  # noqa: S105 - a marker, not a secret
_CACHE_MAX = 50_000

# Given a credential kind, the scope ids that exist (operators, carriers, centres).
ScopeCatalog = Callable[[str], Collection[str]]
# Given an operator, the ids of its stations and routes (where its gates may stand).
StationCatalog = Callable[[str], Collection[str]]
# A bound gate's id: its tap ids start with it and a colon (the gate library's, at most 64 long).
GATE_ID = re.compile(r"[A-Za-z0-9._-]{1,40}")


@dataclass(frozen=True, slots=True)
class Principal:
    """`issued_at` is the credential's creation: for a rider session, when the rider signed in
    (its auth time); `label` names, for a rider session, the identity provider."""

    credential_id: str
    kind: CredentialKind
    scope: str
    expires_at: datetime
    issued_at: datetime | None = None
    label: str | None = None
    gate_id: str | None = None  # a gate credential bound to one gate ...
    stations: frozenset[str] | None = None  # ... and maybe to some of its operator's stations

    def check_gate(self, gate_id: str, station: str, tap_id: str | None = None) -> None:
        """A gate-bound credential scans and uploads as its own gate, at its stations, only,
        and its offline taps' ids start with `<gate id>:`: a leaked token (or a stolen gate)
        cannot speak for the operator's other gates and stations, nor take the tap ids they
        will use (a taken id would make their taps duplicates)."""
        if self.gate_id is not None and (
            gate_id != self.gate_id or (tap_id is not None and not tap_id.startswith(f"{self.gate_id}:"))
        ):
            raise Forbidden("wrong_gate")
        if self.stations is not None and station not in self.stations:
            raise Forbidden("wrong_station")

    @property
    def key(self) -> str:
        """Who this is for per-principal bookkeeping (idempotency, rate limits): a rider across
        sessions, but each device or staff credential on its own (all gates of an operator share
        a scope, not a rate-limit bucket or the answers stored under an Idempotency-Key)."""
        return f"rider:{self.scope}" if self.kind == "rider" else f"{self.kind}:{self.credential_id}"


@dataclass(frozen=True)
class Credential:
    id: str
    kind: CredentialKind
    scope: str
    label: str | None
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    gate_id: str | None = None
    stations: tuple[str, ...] | None = None

    @property
    def operator_wide(self) -> bool:
        """A gate credential any gate of the operator may use (tests, demos)."""
        return self.kind == "gate" and self.gate_id is None


@dataclass(frozen=True)
class IssuedCredential:
    credential: Credential
    token: str


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def parse_token(token: str) -> tuple[str, str]:
    prefix, _, rest = token.partition(".")
    credential_id, _, secret = rest.partition(".")
    if prefix != TOKEN_PREFIX or not credential_id or len(secret) < 32 or len(token) > 200:
        raise Unauthenticated()
    return credential_id, secret


def _credential(row: q.CredentialRow) -> Credential:
    return Credential(
        row.id,
        row.kind,
        row.scope,
        row.label,
        row.created_at,
        row.expires_at,
        row.revoked_at,
        row.gate_id,
        None if row.stations is None else tuple(row.stations),
    )


class CredentialService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        settings: AuthSettings,
        scopes: ScopeCatalog,
        stations: StationCatalog | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings
        self.scopes = scopes
        self.stations = stations
        self._cache: OrderedDict[str, tuple[Principal, datetime]] = OrderedDict()
        self._lookups: dict[str, asyncio.Future[Principal]] = {}
        self._unknown: OrderedDict[str, datetime] = OrderedDict()  # credential id -> until

    async def issue(
        self,
        kind: str,
        scope: str,
        *,
        label: str | None = None,
        ttl: timedelta | None = None,
        gate_id: str | None = None,
        stations: Collection[str] | None = None,
        id_prefix: str = "crd",
    ) -> IssuedCredential:
        """`gate_id` (and `stations`) bind a gate credential to one gate (at those stations).
        `id_prefix`: the demo data's credentials take DEMO_ID_PREFIX and their kind."""
        if kind not in KINDS:
            raise InvalidInput({"kind": [f"must be one of {', '.join(ISSUABLE_KINDS)}"]})
        if kind == "admin" and scope != ADMIN_SCOPE:
            raise InvalidInput({"scope": [f'admin credentials take the scope "{ADMIN_SCOPE}"']})
        if kind not in ("rider", "admin") and scope not in self.scopes(kind):
            known = ", ".join(sorted(self.scopes(kind))) or "none configured"
            raise InvalidInput({"scope": [f"unknown {kind} scope {scope!r}; known: {known}"]})
        binding = self._binding(kind, scope, gate_id, stations)
        ttl = self._lifetime(kind, ttl)
        secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
        return await self._store(q.insert, new_id(id_prefix), kind, scope, secret, label, ttl, **binding)

    def _lifetime(self, kind: str, ttl: timedelta | None) -> timedelta:
        """`ttl`, or the kind's lifetime: a rider session's, else `[auth.token_ttl_days]` of the
        kind, which is also the longest a device or staff token may live."""
        if kind == "rider":
            return ttl or timedelta(hours=self.settings.session_ttl_hours)
        limit = self.settings.token_ttl_days[kind]
        if ttl is None:
            return timedelta(days=limit)
        if ttl < timedelta(days=1):
            raise InvalidInput({"ttl_days": ["must be at least 1 day"]})
        if ttl > timedelta(days=limit):
            raise InvalidInput(
                {"ttl_days": [f"at most {limit} days for a {kind} credential ([auth.token_ttl_days])"]}
            )
        return ttl

    def _binding(
        self, kind: str, operator: str, gate_id: str | None, stations: Collection[str] | None
    ) -> dict[str, Any]:
        if gate_id is None and stations is None:
            return {}
        if kind != "gate":
            raise InvalidInput({"gate_id": ["only gate credentials are bound to a gate"]})
        if gate_id is None or not GATE_ID.fullmatch(gate_id):
            raise InvalidInput({"gate_id": ["a gate id (1 to 40 of A-Z a-z 0-9 . _ -) is needed"]})
        if stations is None:
            return {"gate_id": gate_id}
        known = set(self.stations(operator)) if self.stations else set(stations)
        unknown = sorted(set(stations) - known)
        if not stations or unknown:
            raise InvalidInput(
                {"stations": [f"not stations of {operator}: {', '.join(unknown) or 'none given'}"]}
            )
        return {"gate_id": gate_id, "stations": sorted(set(stations))}

    async def _store(
        self,
        write: Callable[..., Awaitable[q.CredentialRow]],
        credential_id: str,
        kind: str,
        scope: str,
        secret: str,
        label: str | None,
        ttl: timedelta,
        **binding: Any,
    ) -> IssuedCredential:
        now = self.clock.now()
        self._unknown.pop(credential_id, None)
        async with self.db.acquire() as conn:
            row = await write(
                conn,
                id=credential_id,
                kind=kind,
                scope=scope,
                secret_hash=hash_secret(secret),
                label=label,
                created_at=now,
                expires_at=now + ttl,
                **binding,
            )
        return IssuedCredential(_credential(row), f"{TOKEN_PREFIX}.{credential_id}.{secret}")

    async def list(self, *, kind: str | None = None, include_inactive: bool = False) -> list[Credential]:
        async with self.db.acquire() as conn:
            rows = await q.list_all(conn, kind=kind, include_inactive=include_inactive, now=self.clock.now())
        return [_credential(r) for r in rows]

    async def revoke(self, credential_id: str) -> Credential:
        async with self.db.acquire() as conn:
            row = await q.revoke(conn, credential_id, self.clock.now())
        if row is None:
            raise NotFound("credential_not_found")
        self.forget([credential_id])
        return _credential(row)

    def forget(self, credential_ids: Collection[str]) -> None:
        """Stop trusting these credentials in this worker at once (they were revoked in the
        database; other workers re-read them within `cache_seconds`)."""
        gone = set(credential_ids)
        for token, (principal, _) in list(self._cache.items()):
            if principal.credential_id in gone:
                self._cache.pop(token, None)
        for token in list(self._lookups):
            if token.split(".")[1] in gone:
                self._lookups.pop(token, None)  # a read begun before the revocation is not shared

    def trusted(self, token: str) -> Principal | None:
        """The principal of a token verified less than `cache_seconds` ago, without a read."""
        cached = self._cache.get(token)
        if cached is None:
            return None
        principal, trusted_until = cached
        now = self.clock.now()
        if now < trusted_until and now < principal.expires_at:
            return principal
        self._cache.pop(token, None)
        return None

    async def authenticate(self, token: str) -> Principal:
        principal = self.trusted(token)
        if principal is not None:
            return principal
        now = self.clock.now()
        # Requests with a token not (or no longer) cached share one read: else every request in
        # flight when a gate's cache time runs out reads the credential, all at once.
        credential_id, secret = parse_token(token)
        unknown_until = self._unknown.get(credential_id)
        if unknown_until is not None:
            if now < unknown_until:
                raise Unauthenticated()
            del self._unknown[credential_id]
        lookup = self._lookups.get(token)
        if lookup is None:
            lookup = asyncio.ensure_future(self._lookup(token, credential_id, secret, now))
            self._lookups[token] = lookup
            lookup.add_done_callback(lambda done: self._lookup_done(token, done))
        principal = await asyncio.shield(lookup)
        if now >= principal.expires_at:  # read a moment before this request came
            raise Unauthenticated("token_expired")
        return principal

    def _lookup_done(self, token: str, lookup: asyncio.Future[Principal]) -> None:
        if self._lookups.get(token) is lookup:
            del self._lookups[token]
        if not lookup.cancelled():
            lookup.exception()  # retrieved here too: every waiter may have gone

    async def _lookup(self, token: str, credential_id: str, secret: str, now: datetime) -> Principal:
        async with self.db.acquire() as conn:
            row = await q.get(conn, credential_id)
        if row is None:
            self._remember_unknown(credential_id, now)
            raise Unauthenticated()
        if not hmac.compare_digest(row.secret_hash, hash_secret(secret)):
            raise Unauthenticated()
        if row.revoked_at is not None:
            raise Unauthenticated("token_revoked")
        if row.expires_at <= now:
            raise Unauthenticated("token_expired")
        principal = Principal(
            row.id,
            row.kind,
            row.scope,
            row.expires_at,
            row.created_at,
            row.label,
            gate_id=row.gate_id,
            stations=None if row.stations is None else frozenset(row.stations),
        )
        if self.settings.cache_seconds > 0:
            self._cache[token] = (principal, now + timedelta(seconds=self.settings.cache_seconds))
            if len(self._cache) > _CACHE_MAX:
                self._cache.popitem(last=False)
        return principal

    def _remember_unknown(self, credential_id: str, now: datetime) -> None:
        if self.settings.negative_cache_seconds <= 0:
            return
        self._unknown[credential_id] = now + timedelta(seconds=self.settings.negative_cache_seconds)
        self._unknown.move_to_end(credential_id)
        if len(self._unknown) > _CACHE_MAX:
            self._unknown.popitem(last=False)

    async def purge_expired(self, older_than: timedelta = timedelta(days=30)) -> int:
        async with self.db.acquire() as conn:
            return await q.delete_expired(conn, self.clock.now() - older_than)
