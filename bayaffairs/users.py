"""Riders: signing in through an identity provider, the profile, the wallet choice."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bayaffairs.adapters.protocols import (
    RIDER_CATEGORIES,
    IdentityProvider,
    LoginRejected,
    PaymentProvider,
)
from bayaffairs.clock import Clock
from bayaffairs.credentials import CredentialService, IssuedCredential
from bayaffairs.db.queries import users as q
from bayaffairs.errors import InvalidInput, NotFound, Unauthenticated
from bayaffairs.ids import new_id
from bayaffairs.storage import Database


@dataclass(frozen=True)
class Wallet:
    currency: str
    provider: str


@dataclass(frozen=True)
class User:
    id: str
    display_name: str | None
    category: str
    wallet: Wallet | None
    created_at: datetime


def _user(row: q.UserRow) -> User:
    wallet = (
        Wallet(row.wallet_currency, row.wallet_provider)
        if row.wallet_currency and row.wallet_provider
        else None
    )
    return User(row.id, row.display_name, row.category, wallet, row.created_at)


@dataclass(frozen=True)
class Session:
    credential: IssuedCredential
    user: User


class UserService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        credentials: CredentialService,
        identity_providers: Callable[[str], IdentityProvider | None],
        payment_providers: Callable[[str], PaymentProvider | None],
    ) -> None:
        self.db = db
        self.clock = clock
        self.credentials = credentials
        self.identity_providers = identity_providers
        self.payment_providers = payment_providers

    async def sign_in(self, provider_id: str, code: str, claims: Mapping[str, Any]) -> Session:
        """Exchange the provider's code, find or create the user, open a rider session."""
        provider = self.identity_providers(provider_id)
        if provider is None:
            raise InvalidInput(
                {
                    "provider": [
                        "this sign-in provider is not enabled; GET /v1/auth/providers lists those that are"
                    ]
                },
                "unknown_provider",
            )
        try:
            identity = await provider.exchange(code, claims)
        except LoginRejected as exc:
            raise Unauthenticated("login_failed", reason=str(exc)) from exc
        category = identity.category if identity.category in RIDER_CATEGORIES else None
        now = self.clock.now()
        for _ in range(3):
            try:
                row = await self._find_or_create(
                    provider_id, identity.subject, identity.display_name, category, now
                )
                break
            except _RetrySignIn:
                continue
        else:
            raise RuntimeError("sign-in kept racing with itself")
        issued = await self.credentials.issue("rider", row.id, label=provider_id)
        return Session(issued, _user(row))

    async def _find_or_create(
        self, provider_id: str, subject: str, display_name: str | None, category: str | None, now: datetime
    ) -> q.UserRow:
        async with self.db.transaction() as conn:
            row = await q.find_by_identity(conn, provider_id, subject)
            if row is not None:
                await q.touch_identity(conn, provider=provider_id, subject=subject, at=now)
                return await q.update_verified(
                    conn, row.id, display_name=display_name, category=category, at=now
                )
            row = await q.insert(
                conn, id=new_id("usr"), display_name=display_name, category=category or "adult", at=now
            )
            if not await q.link_identity(conn, provider=provider_id, subject=subject, user_id=row.id, at=now):
                # A concurrent first sign-in of the same person won: roll ours back and use theirs.
                raise _RetrySignIn()
            return row

    async def get(self, user_id: str) -> User:
        async with self.db.acquire() as conn:
            row = await q.get(conn, user_id)
        if row is None:
            raise NotFound("user_not_found")
        return _user(row)

    async def set_wallet(self, user_id: str, currency: str, provider_id: str) -> User:
        provider = self.payment_providers(provider_id)
        if provider is None:
            raise InvalidInput(
                {
                    "provider": [
                        "this payment provider is not enabled; GET /v1/auth/providers lists those that are"
                    ]
                }
            )
        if currency not in provider.currencies:
            raise InvalidInput(
                {"currency": [f"{provider_id} takes {', '.join(sorted(provider.currencies))}"]},
                "unsupported_currency",
                currency=currency,
            )
        async with self.db.acquire() as conn:
            row = await q.set_wallet(
                conn, user_id, currency=currency, provider=provider_id, at=self.clock.now()
            )
        if row is None:
            raise NotFound("user_not_found")
        return _user(row)


class _RetrySignIn(Exception):
    pass
