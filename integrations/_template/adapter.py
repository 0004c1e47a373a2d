"""<Partner name>: <why this adapter exists and which partner API it speaks>.

How to fill this in:
1. Rename `TemplateAdapter` (and `class` in manifest.toml) and set `kind` to the manifest's kind.
2. Declare every config key in `Settings`; the registry loads the `[adapters.<instance>]` block
   with it and hands the result to the adapter as `self.settings`.
3. Implement the verbs of your kind's protocol in bayaffairs/adapters/protocols.py
   (`exchange` below is the identity_provider one; replace it with yours).
4. Reach the network only through `self.context.http` with a per-request timeout; map the
   partner's failures to the domain's errors (see `_failure`). Read the time from
   `self.context.clock` so tests can set it.
5. Import nothing from other adapters, bayaffairs.handlers, bayaffairs.db or bayaffairs.cli.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import aiohttp
from marshmallow import Schema, fields, validate

from bayaffairs.adapters.base import Adapter
from bayaffairs.adapters.protocols import LoginRejected, VerifiedIdentity
from bayaffairs.errors import PartnerError

log = logging.getLogger(__name__)


class Settings(Schema):
    """The keys of the adapter's config block. Unknown keys are errors, so typos surface early."""

    class Meta:
        unknown = "raise"

    base_url = fields.String(required=True, validate=validate.URL(require_tld=False))
    timeout_seconds = fields.Float(load_default=5.0, validate=validate.Range(min=0, min_inclusive=False))


class TemplateAdapter(Adapter):
    """<What one instance of this adapter stands for.>"""

    kind = "identity_provider"
    Settings = Settings

    async def start(self) -> None:
        """Optional: check what the adapter needs; raise AdapterNotReady if it cannot work."""

    async def exchange(self, code: str, claims: Mapping[str, Any]) -> VerifiedIdentity:
        """Ask the partner about `code`; LoginRejected if it refuses, PartnerError if it fails."""
        url = self.settings["base_url"].rstrip("/") + "/<PATH>"
        timeout = aiohttp.ClientTimeout(total=self.settings["timeout_seconds"])
        try:
            async with self.context.http.post(url, json={"code": code}, timeout=timeout) as resp:
                status, answer = resp.status, await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise self._failure(f"unreachable or not JSON ({type(exc).__name__})") from exc
        if status == 400:
            raise LoginRejected("<partner> refused the code")
        if status != 200 or not isinstance(answer, dict) or "<SUBJECT KEY>" not in answer:
            raise self._failure(f"HTTP {status}")
        return VerifiedIdentity(subject=str(answer["<SUBJECT KEY>"]))

    def _failure(self, reason: str) -> PartnerError:
        """Log the reason (never secrets or tokens) and give the caller a stable error."""
        log.warning("%s: %s", self.id, reason)
        return PartnerError(details={"partner": self.id})
