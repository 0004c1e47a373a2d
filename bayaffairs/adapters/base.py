"""The one base class every adapter extends, and what the core hands it.

An adapter is a folder under integrations/ with a manifest.toml that names it; config enables
instances of it (`[adapters.<instance>]`), each with its own settings validated against the
adapter's `Settings` schema. Setup and teardown mirror each other: `start()` checks what it
needs (and raises `AdapterNotReady` if it cannot work), `close()` releases what `start()` took.
An adapter class extends the base of its kind (`bayaffairs.adapters.protocols`), which sets
`kind` and declares the verbs it must implement.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from marshmallow import Schema

from bayaffairs.clock import Clock, SystemClock
from bayaffairs.i18n import Text


class AdapterNotReady(Exception):
    """Raised by `start()` when the adapter cannot work (bad credentials, partner unreachable)."""


class NoSettings(Schema):
    class Meta:
        unknown = "raise"


@dataclass(frozen=True)
class Manifest:
    id: str
    kind: str
    name: Text
    class_name: str
    module: str = "adapter"
    remote: bool = False
    codeowners: tuple[str, ...] = ()
    personal_data: tuple[str, ...] = ()
    description: str = ""
    demo_only: bool = False


@dataclass(frozen=True)
class AdapterContext:
    """What the core lends an adapter. `http` is an aiohttp ClientSession (typed loosely here
    because the domain does not import aiohttp; `RemotePartner.http` gives it its type)."""

    http: Any
    clock: Clock = field(default_factory=SystemClock)


class Adapter:
    """Base of all adapters: extend the base of your kind, and set `Settings` if you take any."""

    kind: ClassVar[str]
    Settings: ClassVar[type[Schema]] = NoSettings

    def __init__(
        self,
        instance_id: str,
        manifest: Manifest,
        settings: Mapping[str, Any],
        context: AdapterContext,
        *,
        jurisdiction: str | None = None,
        city: str | None = None,
    ) -> None:
        self.id = instance_id
        self.manifest = manifest
        self.settings = settings
        self.context = context
        self.jurisdiction = jurisdiction
        self.city = city

    async def start(self) -> None:
        """Check credentials and reachability; raise AdapterNotReady when it cannot work."""

    async def close(self) -> None:
        """Release what start() acquired."""

    @property
    def name(self) -> Text:
        """What riders see: the `name` of the config block when it has one (an operator, carrier
        or agency described by config), else the adapter's own name from its manifest."""
        name = self.settings.get("name")
        return name if isinstance(name, Text) else self.manifest.name
