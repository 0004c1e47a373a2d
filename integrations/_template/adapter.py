"""<Partner name>: <why this adapter exists and which partner API it speaks>.

How to fill this in:
1. Rename `TemplateAdapter` (and `class` in manifest.toml). Extend the base of the manifest's
   kind from bayaffairs/adapters/protocols.py (`IdentityProvider` below) and implement every
   verb it declares: the registry refuses a class that leaves one out. A carrier or agency
   described by its config block extends `ConfiguredCarrier`/`LocalCarrier`
   (bayaffairs/travel/configured.py) or `ConfiguredAgency` instead.
2. Declare every config key in `Settings`; the registry loads the `[adapters.<instance>]` block
   with it and hands the result to the adapter as `self.settings`.
3. A partner reached over the network: keep `RemotePartner` first in the bases. It holds the
   shared session and the timeout (`timeout_seconds = timeout_field()`); `self.request()` makes
   one call under it, `self.answer()` reads a JSON object, and `self.failure(reason)` is the
   PartnerError to raise (it logs the reason: never put a secret in it). A local adapter drops
   `RemotePartner`. Read the time from `self.context.clock` so tests can set it.
4. Import nothing from other adapters, bayaffairs.handlers, bayaffairs.db or bayaffairs.cli.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import Schema, fields, validate

from bayaffairs.adapters.protocols import IdentityProvider, LoginRejected, VerifiedIdentity
from bayaffairs.integrations.remote import RemotePartner, timeout_field


class Settings(Schema):
    """The keys of the adapter's config block. Unknown keys are errors, so typos surface early."""

    class Meta:
        unknown = "raise"

    base_url = fields.String(required=True, validate=validate.URL(require_tld=False))
    timeout_seconds = timeout_field()


class TemplateAdapter(RemotePartner, IdentityProvider):
    """<What one instance of this adapter stands for.>"""

    Settings = Settings

    async def start(self) -> None:
        """Optional: check what the adapter needs; raise AdapterNotReady if it cannot work."""

    async def exchange(self, code: str, claims: Mapping[str, Any]) -> VerifiedIdentity:
        """Ask the partner about `code`; LoginRejected if it refuses, PartnerError if it fails."""
        url = self.settings["base_url"].rstrip("/") + "/<PATH>"
        status, raw = await self.request("POST", url, json={"code": code})
        if status == 400:
            raise LoginRejected("<partner> refused the code")
        if status != 200:
            raise self.failure(f"HTTP {status}")
        answer = self.answer(raw)
        if "<SUBJECT KEY>" not in answer:
            raise self.failure("answer without <SUBJECT KEY>")
        return VerifiedIdentity(subject=str(answer["<SUBJECT KEY>"]))
