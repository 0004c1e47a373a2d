"""Finds adapters by their manifests and loads the ones config enables.

The core knows an adapter only by its folder name: manifests are read first, and an adapter's
code is imported only when a config block enables it (lazily, by module name).
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import importlib.util
import json
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from marshmallow import Schema, ValidationError, fields, validate

from bayaffairs.adapters.base import Adapter, AdapterContext, Manifest
from bayaffairs.adapters.protocols import KIND_BASES, verbs
from bayaffairs.config.errors import ConfigError, config_error_from
from bayaffairs.config.regions import ID_PATTERN, AdapterBlock, TextField
from bayaffairs.memo import ProcessMemo


class ManifestSchema(Schema):
    class Meta:
        unknown = "raise"

    id = fields.String(required=True, validate=validate.Regexp(ID_PATTERN))
    kind = fields.String(required=True, validate=validate.OneOf(tuple(KIND_BASES)))
    name = TextField(required=True)
    module = fields.String(load_default="adapter", validate=validate.Regexp(r"^[a-z_][a-z0-9_]*$"))
    class_name = fields.String(required=True, data_key="class", validate=validate.Regexp(r"^[A-Z]\w*$"))
    remote = fields.Boolean(load_default=False)
    codeowners = fields.List(fields.String(), load_default=list)
    personal_data = fields.List(fields.String(), load_default=list)
    description = fields.String(load_default="")
    # Demos and tests only (a wallet that moves no money, a sign-in that trusts any handle, ...):
    # enabled by the demo and test profiles alone; production refuses to start with one enabled.
    demo_only = fields.Boolean(load_default=False)


def read_manifest(folder: Path) -> Manifest:
    display = f"integrations/{folder.name}/manifest.toml"
    try:
        raw = tomllib.loads((folder / "manifest.toml").read_text(encoding="utf-8"))
        data = ManifestSchema().load(raw)
    except FileNotFoundError:
        raise ConfigError(display, "", "file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(display, "", f"not valid TOML: {exc}") from None
    except ValidationError as exc:
        raise config_error_from(display, exc.messages) from None
    if data["id"] != folder.name:
        raise ConfigError(display, "id", f"must equal the folder name {folder.name!r}")
    for key in ("codeowners", "personal_data"):
        data[key] = tuple(data[key])
    return Manifest(**data)


def integrations_root(package: str = "bayaffairs.integrations") -> Path:
    """Where the adapter folders are, found by package name (the core imports no adapter)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"package {package} not found")
    return Path(next(iter(spec.submodule_search_locations)))


def discover(root: Path | None = None) -> dict[str, Manifest]:
    """Every adapter folder below `root` (folders starting with `_` are templates)."""
    root = root or integrations_root()
    manifests = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        if folder.name.startswith(("_", ".")) or not (folder / "manifest.toml").exists():
            continue
        manifests[folder.name] = read_manifest(folder)
    return manifests


def adapter_class(package: str, manifest: Manifest) -> type[Adapter]:
    module = importlib.import_module(f"{package}.{manifest.id}.{manifest.module}")
    cls = getattr(module, manifest.class_name, None)
    display = f"integrations/{manifest.id}/manifest.toml"
    if not (isinstance(cls, type) and issubclass(cls, Adapter)):
        raise ConfigError(display, "class", f"{manifest.class_name} is not an Adapter subclass")
    base = KIND_BASES[manifest.kind]
    if not issubclass(cls, base):
        raise ConfigError(display, "kind", f"{manifest.class_name} does not extend {base.__name__}")
    missing = [name for name in verbs(base) if getattr(cls, name) is getattr(base, name)]
    if missing:
        raise ConfigError(display, "class", f"{manifest.class_name} lacks {', '.join(missing)}")
    return cls


def validate_settings(cls: type[Adapter], block: AdapterBlock) -> dict[str, Any]:
    """The block's settings loaded by the adapter's schema. Loads are remembered per adapter
    class and settings text: a process that starts several apps from one config (the tests,
    ~0.5 s an app for 34 blocks) checks each block once. Equal blocks share one loaded value,
    so adapters treat their settings as read-only (none writes to them)."""

    def load() -> dict[str, Any]:
        schema: Schema = cls.Settings()
        try:
            loaded: dict[str, Any] = schema.load(block.settings)
        except ValidationError as exc:
            raise config_error_from(block.source, exc.messages, f"adapters.{block.instance}") from None
        return loaded

    return _LOADED.get((cls, json.dumps(block.settings, sort_keys=True, default=str)), load)


_LOADED: ProcessMemo[tuple[type, str], dict[str, Any]] = ProcessMemo(512)


_Kind = TypeVar("_Kind", bound=Adapter)


@dataclass
class Adapters:
    """The enabled adapter instances, by instance id; asked for by the base of their kind
    (`adapters.of_kind(BorderCarrier)`), they come back typed as that kind."""

    instances: dict[str, Adapter]

    def of_kind(self, kind: type[_Kind]) -> list[_Kind]:
        return [a for a in self.instances.values() if isinstance(a, kind)]

    def get(self, instance_id: str, kind: type[_Kind]) -> _Kind | None:
        adapter = self.instances.get(instance_id)
        return adapter if isinstance(adapter, kind) else None

    def lookup(self, kind: type[_Kind]) -> Callable[[str], _Kind | None]:
        """Instance id -> the enabled adapter of `kind` with that id (None when there is none)."""
        return functools.partial(self.get, kind=kind)

    async def start(self) -> None:
        await asyncio.gather(*(a.start() for a in self.instances.values()))

    async def close(self) -> None:
        await asyncio.gather(*(a.close() for a in self.instances.values()), return_exceptions=True)


def load(
    blocks: Iterable[AdapterBlock],
    manifests: dict[str, Manifest],
    context: AdapterContext,
    package: str = "bayaffairs.integrations",
) -> Adapters:
    instances: dict[str, Adapter] = {}
    for block in blocks:
        if not block.enabled:
            continue
        manifest = manifests.get(block.module)
        if manifest is None:
            raise ConfigError(
                block.source,
                f"adapters.{block.instance}.adapter",
                f"no adapter folder integrations/{block.module}/",
            )
        cls = adapter_class(package, manifest)
        settings = validate_settings(cls, block)
        instances[block.instance] = cls(
            block.instance,
            manifest,
            settings,
            context,
            jurisdiction=block.jurisdiction,
            city=block.city,
        )
    return Adapters(instances)
