"""Issuing ride codes (short-lived, issuer-signed) and device credentials (for offline codes).

A rider gets a code only with a wallet to charge, an account not on the deny list (an unpaid
debt puts it there until paid), and no journey still open in another city (tap out there
first). A journey left open past its operator's maximum journey time blocks nothing: it is
closed as unfinished and charged the maximum fare (bayaffairs/transit/journeys.py).
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric import ec

from bayaffairs.clock import Clock
from bayaffairs.config.settings import RideCodeSettings
from bayaffairs.db.queries import debts as debts_q
from bayaffairs.db.queries import deny_list as deny_q
from bayaffairs.db.queries import journeys as journeys_q
from bayaffairs.db.queries import ride_accounts as accounts_q
from bayaffairs.db.queries import users as users_q
from bayaffairs.errors import Conflict, Forbidden, Gone, InvalidInput, NotFound
from bayaffairs.storage import Database
from bayaffairs.transit.codes import base45
from bayaffairs.transit.codes import format as fmt
from bayaffairs.transit.codes.signatures import compressed, device_key, sign
from bayaffairs.transit.keyring import RideCodeKeys, key_number
from bayaffairs.transit.network import Network


class CodeStore(Protocol):
    """Where issued codes wait to be rendered as images (short-lived, per rider)."""

    async def put(self, code_id: str, user_id: str, payload: str, expires_at: int, now: int) -> None:
        """Keep `payload` until a while after `expires_at`; both times are our clock's."""
        ...

    async def get(self, code_id: str, user_id: str) -> tuple[str, int] | None:
        """The payload and until when (Unix seconds, tolerance included) a gate takes it."""
        ...


@dataclass(frozen=True)
class IssuedCode:
    code_id: str
    payload: str
    issued_at: datetime
    expires_at: datetime
    refresh_after: datetime
    city: str


@dataclass(frozen=True)
class IssuedCredential:
    credential_id: str
    credential: str  # base64 of the 126 issuer-signed bytes the app prefixes to every code
    key_id: str
    scope: int
    valid_from: datetime
    valid_until: datetime


class RideCodeService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        settings: RideCodeSettings,
        network: Network,
        keys: RideCodeKeys,
        store: CodeStore,
    ) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings
        self.network = network
        self.keys = keys
        self.store = store

    async def _account(self, user_id: str, city: str | None) -> bytes:
        async with self.db.acquire() as conn:
            user = await users_q.get(conn, user_id)
            if user is None:
                raise NotFound("user_not_found")
            if user.wallet_currency is None:
                raise Forbidden("wallet_required")
            token = await accounts_q.current_token(conn, user_id)
            if token is None:
                token = await accounts_q.create(conn, user_id, os.urandom(8))
            if await deny_q.current(conn, "account", token.hex()):
                owed = await debts_q.unpaid_count(conn, user_id)
                raise Forbidden(
                    "account_denied", details={"debts": owed, "list": "GET /v1/me/debts"} if owed else None
                )
            now = self.clock.now()
            for journey in await journeys_q.open_for_user(conn, user_id):
                operator = self.network.operator(journey.operator)
                overdue = (
                    operator is not None
                    and journey.entry_at is not None
                    and now - journey.entry_at > timedelta(minutes=operator.rules.max_journey_minutes)
                )
                if overdue:
                    continue  # past its time: closed as unfinished by the job's next round
                # a code of a city whose codes the journey's gates take (a through-fare rule) ends it
                elsewhere = (
                    operator is None
                    or city is None
                    or (
                        operator.city != city and self.network.scope_of_city(city) not in operator.scope_codes
                    )
                )
                if elsewhere:
                    raise Conflict("unfinished_journey", details={"journey_id": journey.id})
        return token

    def _scope(self, city: str) -> int:
        scope = self.network.scope_of_city(city)
        if scope is None:
            raise InvalidInput({"city": [f"unknown city {city!r}"]})
        return scope

    async def issue_code(self, user_id: str, city: str, riders: int = 1) -> IssuedCode:
        """`riders` 2-3: a group code (one scan, one fare per rider), asked for explicitly."""
        if not 1 <= riders <= fmt.MAX_RIDERS:
            raise InvalidInput({"riders": [f"from 1 to {fmt.MAX_RIDERS} riders"]})
        scope = self._scope(city)
        account = await self._account(user_id, city)
        key = await self.keys.signing_key()
        now = self.clock.now()
        issued = int(now.timestamp())
        nonce = os.urandom(8)
        body = fmt.issuer_code_body(
            key_number(key.kid), issued, self.settings.code_seconds, scope, account, nonce, riders
        )
        payload = base45.encode(body + sign(key.private_key, body))
        code_id = nonce.hex()
        good_until = issued + self.settings.code_seconds + self.settings.skew_seconds
        await self.store.put(code_id, user_id, payload, good_until, issued)
        issued_at = datetime.fromtimestamp(issued, now.tzinfo)
        return IssuedCode(
            code_id=code_id,
            payload=payload,
            issued_at=issued_at,
            expires_at=issued_at + timedelta(seconds=self.settings.code_seconds),
            refresh_after=issued_at + timedelta(seconds=self.settings.refresh_after_seconds),
            city=city,
        )

    async def payload_of(self, user_id: str, code_id: str) -> str:
        found = await self.store.get(code_id, user_id)
        if found is None:
            raise NotFound("code_not_found")
        payload, good_until = found
        if self.clock.now().timestamp() > good_until:
            raise Gone("code_expired")
        return payload

    async def issue_credential(
        self, user_id: str, device_public_key: str, city: str | None
    ) -> IssuedCredential:
        try:
            raw = base64.b64decode(device_public_key, validate=True)
            public = device_key(raw)
        except (binascii.Error, ValueError):
            raise InvalidInput({"device_public_key": ["a P-256 public key, X9.62 point in base64"]}) from None
        scope = self._scope(city) if city else 0
        account = await self._account(user_id, city)
        key = await self.keys.signing_key()
        now = self.clock.now()
        valid_from = int(now.timestamp())
        valid_until = valid_from + self.settings.credential_hours * 3600
        credential_id = os.urandom(8)
        point = compressed(public) if isinstance(public, ec.EllipticCurvePublicKey) else raw
        body = fmt.credential_body(
            key_number(key.kid), valid_from, valid_until, scope, account, credential_id, point
        )
        credential = body + sign(key.private_key, body)
        async with self.db.acquire() as conn:
            await accounts_q.insert_credential(
                conn,
                credential_id=credential_id,
                account_token=account,
                device_public_key=point,
                valid_from=datetime.fromtimestamp(valid_from, now.tzinfo),
                valid_until=datetime.fromtimestamp(valid_until, now.tzinfo),
            )
        return IssuedCredential(
            credential_id=credential_id.hex(),
            credential=base64.b64encode(credential).decode(),
            key_id=key.kid,
            scope=scope,
            valid_from=datetime.fromtimestamp(valid_from, now.tzinfo),
            valid_until=datetime.fromtimestamp(valid_until, now.tzinfo),
        )

    async def revoke_credential(self, user_id: str, credential_id: str) -> None:
        """A lost phone: its credential stops working online at once, and offline once gates sync."""
        try:
            raw = bytes.fromhex(credential_id)
        except ValueError:
            raise NotFound("credential_not_found") from None
        async with self.db.transaction() as conn:
            if len(raw) != 8 or not await accounts_q.revoke_credential(conn, raw, user_id, self.clock.now()):
                raise NotFound("credential_not_found")
            await deny_q.append(
                conn, "credential", credential_id, "add", "revoked by the rider", self.clock.now()
            )
