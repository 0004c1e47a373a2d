"""Rates from an HTTP rate feed, shaped like common reference-rate APIs.

`GET {base_url}/rates?base=HKD` with header `X-Api-Key` answers
`{"base": "HKD", "as_of": "<RFC 3339>", "rates": {"CNY": "0.9201", "MOP": "1.0300"}}`; rates are
decimal strings (never floats). One request per base currency serves every quote for
`refresh_seconds`; a feed older than `max_age_seconds` is refused rather than used, so a journey
is never charged at a stale rate (the caller retries later).
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from marshmallow import Schema, fields, validate

from bayaffairs.adapters.protocols import FxRate, FxRateSource
from bayaffairs.integrations.remote import RemotePartner, timeout_field


class Settings(Schema):
    class Meta:
        unknown = "raise"

    base_url = fields.Url(required=True, require_tld=False)
    api_key = fields.String(required=True, validate=validate.Length(min=1))
    timeout_seconds = timeout_field(3.0)
    refresh_seconds = fields.Integer(load_default=300, validate=validate.Range(min=1))
    max_age_seconds = fields.Integer(load_default=86_400, validate=validate.Range(min=60))


class FxFeed(RemotePartner, FxRateSource):
    Settings = Settings
    failure_code = "fx_rate_unavailable"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._tables: dict[str, tuple[datetime, dict[str, Decimal], float]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def rate(self, base: str, quote: str, at: datetime) -> FxRate:
        if base == quote:
            return FxRate(base, quote, Decimal(1), at, self.id)
        as_of, table = await self._table(base)
        if quote not in table:
            raise self.failure(f"no {base}/{quote} in the feed")
        if self.context.clock.now() - as_of > timedelta(seconds=self.settings["max_age_seconds"]):
            raise self.failure(f"the {base} table is from {as_of.isoformat()}, too old")
        return FxRate(base, quote, table[quote], as_of, self.id)

    async def _table(self, base: str) -> tuple[datetime, dict[str, Decimal]]:
        cached = self._tables.get(base)
        if cached and time.monotonic() - cached[2] < self.settings["refresh_seconds"]:
            return cached[0], cached[1]
        async with self._locks.setdefault(base, asyncio.Lock()):
            cached = self._tables.get(base)
            if cached and time.monotonic() - cached[2] < self.settings["refresh_seconds"]:
                return cached[0], cached[1]
            as_of, table = await self._fetch(base)
            self._tables[base] = (as_of, table, time.monotonic())
            return as_of, table

    async def _fetch(self, base: str) -> tuple[datetime, dict[str, Decimal]]:
        s = self.settings
        status, raw = await self.request(
            "GET",
            f"{s['base_url'].rstrip('/')}/rates",
            params={"base": base},
            headers={"X-Api-Key": s["api_key"], "Accept": "application/json"},
        )
        if status != 200:
            raise self.failure(f"HTTP {status}")
        body = self.answer(raw)
        try:
            if body["base"] != base:
                raise ValueError("another base")
            as_of = datetime.fromisoformat(body["as_of"])
            if as_of.tzinfo is None:
                raise ValueError("as_of without offset")
            table = {str(q): Decimal(str(v)) for q, v in body["rates"].items() if isinstance(v, str)}
            if any(v <= 0 for v in table.values()):
                raise ValueError("a rate is not positive")
        except (KeyError, TypeError, ValueError, InvalidOperation, AttributeError) as exc:
            raise self.failure(f"malformed answer: {exc}") from None
        return as_of, table
