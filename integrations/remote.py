"""What every adapter of a partner over HTTP shares: the session, the timeout, the error mapping.

`RemotePartner` is the base of such an adapter (combined with the base of its kind, e.g.
`class WeChatLogin(RemotePartner, IdentityProvider)`). It reaches the network through the
app's shared session (`self.http`) under the block's `timeout_seconds` (declare it with
`timeout_field()`), and maps whatever goes wrong to the one error the core understands:
`failure(reason)` logs the reason (never a secret) and returns `PartnerError` naming this
partner. `request()` and `answer()` raise it for a partner that cannot be reached, is too slow
or does not answer with a JSON object.

A partner's wire protocol kept in the adapter's `client.py` (signing, envelopes) uses `call()`
and `json_object()`, which raise `CallError`; the adapter turns that into `failure()`.

This module is shared by adapters; it is not an adapter (no folder, no manifest).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

import aiohttp
from marshmallow import Schema, fields, validate

from bayaffairs.adapters.base import Adapter
from bayaffairs.errors import PartnerError


class CallError(Exception):
    """The partner could not be reached, failed, or answered something we cannot read. The
    message says which request and why, and never carries a URL (it may hold a secret)."""


def timeout_field(default: float = 5.0) -> fields.Float:
    """The `timeout_seconds` setting: how long one request to the partner may take in all."""
    return fields.Float(load_default=default, validate=validate.Range(min=0, min_inclusive=False))


class ClientCredentials(Schema):
    """Settings of a partner reached at `base_url` as an OAuth-style client (id and secret)."""

    base_url = fields.String(required=True, validate=validate.URL(require_tld=False))
    client_id = fields.String(required=True, validate=validate.Length(min=1))
    client_secret = fields.String(required=True, validate=validate.Length(min=1))
    timeout_seconds = timeout_field()


@dataclass(frozen=True)
class Reply:
    """A partner's answer, whatever its status: the status, its headers, the body."""

    status: int
    headers: Mapping[str, str]
    body: bytes


async def exchange(
    http: aiohttp.ClientSession, method: str, url: str, *, timeout_seconds: float, **kwargs: Any
) -> Reply:
    """One request under `timeout_seconds`: the whole answer, whatever the status. Raises
    CallError when the partner cannot be reached or does not answer in time; aiohttp's error is
    not chained, since its message may carry the URL."""
    path = urlsplit(url).path
    timeout = aiohttp.ClientTimeout(total=timeout_seconds)
    try:
        async with http.request(method, url, timeout=timeout, **kwargs) as response:
            return Reply(response.status, dict(response.headers), await response.read())
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise CallError(f"{method} {path} failed: unreachable ({type(exc).__name__})") from None


async def call(
    http: aiohttp.ClientSession, method: str, url: str, *, timeout_seconds: float, **kwargs: Any
) -> tuple[int, bytes]:
    """`exchange()`'s status and body."""
    reply = await exchange(http, method, url, timeout_seconds=timeout_seconds, **kwargs)
    return reply.status, reply.body


def retry_after_seconds(value: str | None, now: datetime) -> int | None:
    """A `Retry-After` header in whole seconds from `now` (it is either a number of seconds or
    an HTTP date); None when absent or unreadable, 0 for a date already past."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return int(value) if len(value) <= 9 else 10**9  # past any wait a caller honours
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        return None
    return max(0, int((when - now).total_seconds() + 0.999))


def json_object(raw: bytes) -> dict[str, Any]:
    """The JSON object of an answer; CallError when it is not JSON or not an object."""
    try:
        answer = json.loads(raw)
    except ValueError:
        raise CallError("answer is not JSON") from None
    if not isinstance(answer, dict):
        raise CallError("answer is not a JSON object")
    return answer


class RemotePartner(Adapter):
    """Base of an adapter that calls a partner over HTTP (see the module docstring).

    `failure_code` is the error code of its `PartnerError`s; a kind may name a narrower one
    (an FX feed: `fx_rate_unavailable`).
    """

    failure_code: ClassVar[str] = "partner_error"

    @property
    def http(self) -> aiohttp.ClientSession:
        """The app's shared HTTP session."""
        session: aiohttp.ClientSession = self.context.http
        return session

    @property
    def timeout_seconds(self) -> float:
        return float(self.settings["timeout_seconds"])

    def failure(self, reason: str, **details: str) -> PartnerError:
        """Log why the partner failed us and return the error to raise: `PartnerError` whose
        details name the partner (and carry `details`). Never put a secret in `reason`."""
        logging.getLogger(type(self).__module__).warning("%s: %s", self.id, reason)
        return PartnerError(self.failure_code, details={"partner": self.id, **details})

    async def request(self, method: str, url: str, **kwargs: Any) -> tuple[int, bytes]:
        """`call()` with the shared session and this adapter's timeout; a partner that cannot be
        reached or is too slow raises `failure()`."""
        reply = await self.reply(method, url, **kwargs)
        return reply.status, reply.body

    async def reply(self, method: str, url: str, **kwargs: Any) -> Reply:
        """`request()` with the answer's headers too (a `Retry-After`, say)."""
        try:
            return await exchange(self.http, method, url, timeout_seconds=self.timeout_seconds, **kwargs)
        except CallError as exc:
            raise self.failure(str(exc)) from None

    def answer(self, raw: bytes) -> dict[str, Any]:
        """The JSON object of an answer, or `failure()` when it is not one."""
        try:
            return json_object(raw)
        except CallError as exc:
            raise self.failure(str(exc)) from None
