"""Loads the whole configuration folder into one validated `Config`."""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from marshmallow import ValidationError

from bayaffairs.config.errors import ConfigError, config_error_from
from bayaffairs.config.files import Fallback, deep_merge, read_toml
from bayaffairs.config.regions import (
    ID_PATTERN,
    AdapterBlock,
    City,
    CitySchema,
    Contact,
    ContactSchema,
    Jurisdiction,
    JurisdictionSchema,
)
from bayaffairs.config.settings import OPEN_SECTIONS, SECTIONS, Settings, build_settings

_ID = re.compile(ID_PATTERN)
ENV_PREFIX = "BAYAFFAIRS_"
# The profile that runs when none is named: no overlay, and `bayaffairs serve` refuses demo
# secrets and demo adapters (bayaffairs/config/production.py).
PRODUCTION = "production"


@dataclass(frozen=True)
class Config:
    """`sources` maps "section.key" of the settings (and "adapters.<instance>") to where its
    value was set last; `fallbacks` are the `${NAME:-value}` references that used their value and
    were not overridden by a later layer."""

    directory: Path
    settings: Settings
    jurisdictions: Mapping[str, Jurisdiction]
    cities: Mapping[str, City]
    adapter_blocks: tuple[AdapterBlock, ...]
    sources: Mapping[str, str] = field(default_factory=dict)
    fallbacks: tuple[Fallback, ...] = ()


def default_config_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The checkout's config/ folder, unless BAYAFFAIRS_CONFIG_DIR (in `environ`, else the
    process's environment) names another."""
    named = (os.environ if environ is None else environ).get("BAYAFFAIRS_CONFIG_DIR")
    if named:
        return Path(named)
    return Path(__file__).resolve().parents[2] / "config"


def load_config(
    directory: Path | None = None,
    *,
    profile: str | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Read app.toml, the profile overlay, BAYAFFAIRS_* variables, jurisdictions and cities.

    `overrides` (tests) is merged last, on top of everything. No profile, or the profile named
    "production", is production: no overlay.
    """
    environ = os.environ if environ is None else environ
    directory = directory or default_config_dir(environ)
    profile = profile if profile is not None else environ.get("BAYAFFAIRS_PROFILE") or None
    if profile == PRODUCTION:
        profile = None
    fallbacks: list[Fallback] = []
    data, source_of = _settings_tables(directory, profile, environ, fallbacks)
    if overrides:
        data = deep_merge(data, overrides)
        _forget_fallbacks(fallbacks, overrides)
    settings = build_settings(data, source_of, profile)

    jurisdictions = {
        j.id: j for j in _load_all(directory, "jurisdictions", JurisdictionSchema, environ, _jurisdiction)
    }
    if not jurisdictions:
        raise ConfigError("config/jurisdictions", "", "no jurisdiction files found")
    cities = {c.id: c for c in _load_all(directory, "cities", CitySchema, environ, _city)}
    blocks: list[AdapterBlock] = []
    for instance, table in (data.get("adapters") or {}).items():
        source = source_of.get(f"adapters.{instance}", "config/app.toml")
        blocks.extend(_blocks({instance: table}, source))
    for kind in ("jurisdictions", "cities"):
        for path in sorted((directory / kind).glob("*.toml")):
            raw = read_toml(path, f"config/{kind}/{path.name}", environ, fallbacks)
            place = raw.get("id")
            for block in _blocks(raw.get("adapters", {}), f"config/{kind}/{path.name}"):
                if kind == "cities":
                    city = cities[place]
                    blocks.append(_placed(block, city.jurisdiction, city.id))
                else:
                    blocks.append(_placed(block, place, None))
    for city in cities.values():
        if city.jurisdiction not in jurisdictions:
            raise ConfigError(
                f"config/cities/{city.id}.toml", "jurisdiction", f"unknown jurisdiction {city.jurisdiction!r}"
            )
    codes: dict[int, str] = {}
    for city in cities.values():
        if city.scope_code in codes:
            raise ConfigError(
                f"config/cities/{city.id}.toml", "scope_code", f"already used by {codes[city.scope_code]}"
            )
        codes[city.scope_code] = city.id
    seen: dict[str, str] = {}
    for block in blocks:
        if block.instance in seen:
            raise ConfigError(
                block.source, f"adapters.{block.instance}", f"already declared in {seen[block.instance]}"
            )
        seen[block.instance] = block.source
    return Config(
        directory, settings, jurisdictions, cities, tuple(blocks), dict(source_of), tuple(fallbacks)
    )


def _leaf_keys(table: Mapping[str, Any], prefix: str = "") -> list[str]:
    out = []
    for key, value in table.items():
        path = f"{prefix}.{key}" if prefix else key
        out.extend(_leaf_keys(value, path) if isinstance(value, Mapping) else [path])
    return out


def _forget_fallbacks(fallbacks: list[Fallback], overlay: Mapping[str, Any]) -> None:
    """A value a later layer sets replaces the fallback an earlier layer used there."""
    replaced = _leaf_keys(overlay)
    fallbacks[:] = [
        f for f in fallbacks if not any(f.key == k or f.key.startswith((f"{k}.", f"{k}[")) for k in replaced)
    ]


def _settings_tables(
    directory: Path, profile: str | None, environ: Mapping[str, str], fallbacks: list[Fallback]
) -> tuple[dict[str, Any], dict[str, str]]:
    source_of: dict[str, str] = {}
    data = read_toml(directory / "app.toml", "config/app.toml", environ, fallbacks)
    for section, table in data.items():
        source_of[section] = "config/app.toml"
        if isinstance(table, dict):
            for key in table:
                source_of[f"{section}.{key}"] = "config/app.toml"
    layers: list[tuple[Path, str]] = []
    if profile:
        if not re.fullmatch(r"[a-z0-9_-]+", profile):
            raise ConfigError("BAYAFFAIRS_PROFILE", "", f"{profile!r} is not a profile name")
        layers.append((directory / "profiles" / f"{profile}.toml", f"config/profiles/{profile}.toml"))
    if (directory / "local.toml").exists():
        layers.append((directory / "local.toml", "config/local.toml"))
    for path, display in layers:
        used: list[Fallback] = []
        overlay = read_toml(path, display, environ, used)
        _forget_fallbacks(fallbacks, overlay)
        fallbacks.extend(used)
        for section, table in overlay.items():
            source_of[section] = display
            if isinstance(table, dict):
                for key in table:
                    source_of[f"{section}.{key}"] = display
        data = deep_merge(data, overlay)
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        rest = name[len(ENV_PREFIX) :].lower()
        for section in [*SECTIONS, *OPEN_SECTIONS]:
            if section == "adapters" or not rest.startswith(section + "_"):
                continue
            key = rest[len(section) + 1 :]
            table = data.setdefault(section, {})
            current = table.get(key)
            table[key] = [v.strip() for v in value.split(",")] if isinstance(current, list) else value
            source_of[f"{section}.{key}"] = f"environment variable {name}"
            _forget_fallbacks(fallbacks, {section: {key: value}})
            break
    return data, source_of


def _load_all(
    directory: Path, kind: str, schema_cls: type, environ: Mapping[str, str], make: Any
) -> list[Any]:
    out = []
    for path in sorted((directory / kind).glob("*.toml")):
        display = f"config/{kind}/{path.name}"
        raw = read_toml(path, display, environ)
        try:
            loaded = schema_cls().load(raw)
        except ValidationError as exc:
            raise config_error_from(display, exc.messages) from None
        if loaded["id"] != path.stem:
            raise ConfigError(display, "id", f"must equal the file name {path.stem!r}")
        out.append(make(loaded))
    return out


def _jurisdiction(d: dict[str, Any]) -> Jurisdiction:
    return Jurisdiction(
        id=d["id"],
        region=d["region"],
        name=d["name"],
        currency=d["currency"],
        time_zone=d["time_zone"],
        languages=tuple(d["languages"]),
        resident_documents=tuple(d["resident_documents"]),
        fare_products=d["fare_products"],
    )


def _city(d: dict[str, Any]) -> City:
    return City(
        id=d["id"],
        jurisdiction=d["jurisdiction"],
        name=d["name"],
        scope_code=d["scope_code"],
        through_fares=d["through_fares"],
    )


def _blocks(tables: Mapping[str, Any], source: str) -> list[AdapterBlock]:
    out = []
    for instance, table in tables.items():
        key = f"adapters.{instance}"
        if not _ID.match(instance):
            raise ConfigError(source, key, "adapter instance ids are lower_snake_case")
        if not isinstance(table, dict):
            raise ConfigError(source, key, "must be a table")
        settings = dict(table)
        module = settings.pop("adapter", instance)
        enabled = settings.pop("enabled", True)
        if not isinstance(module, str) or not _ID.match(module):
            raise ConfigError(source, f"{key}.adapter", "must name an adapter folder under integrations/")
        if not isinstance(enabled, bool):
            raise ConfigError(source, f"{key}.enabled", "must be true or false")
        contact = _contact(settings.pop("privacy_contact", None), source, f"{key}.privacy_contact")
        out.append(AdapterBlock(instance, module, enabled, settings, source, privacy_contact=contact))
    return out


def _contact(raw: Any, source: str, key: str) -> Contact | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ConfigError(source, key, "must be a table of email, phone, url, address")
    try:
        contact: Contact = ContactSchema().load(raw)
    except ValidationError as exc:
        raise config_error_from(source, exc.messages, key) from None
    return contact


def _placed(block: AdapterBlock, jurisdiction: str | None, city: str | None) -> AdapterBlock:
    return dataclasses.replace(block, jurisdiction=jurisdiction, city=city)
