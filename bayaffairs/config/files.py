"""Reading TOML config files, with `${ENV}` references expanded in string values."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bayaffairs.config.errors import ConfigError
from bayaffairs.memo import ProcessMemo

_ENV_REF = re.compile(r"\$\{([A-Z0-9_]+)(?::-([^}]*))?\}")


@dataclass(frozen=True)
class Fallback:
    """A `${variable:-value}` reference whose variable was unset or empty, so `value` was used,
    at `key` (dotted) of the file `source`."""

    source: str
    key: str
    variable: str
    value: str


def read_toml(
    path: Path,
    display: str,
    environ: Mapping[str, str] | None = None,
    fallbacks: list[Fallback] | None = None,
) -> dict[str, Any]:
    """The file's tables with `${NAME}` references expanded; each fallback used is appended to
    `fallbacks` when given."""
    try:
        data = _parsed(path.read_bytes())
    except FileNotFoundError:
        raise ConfigError(display, "", "file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(display, "", f"not valid TOML: {exc}") from None
    environ = os.environ if environ is None else environ
    used = [] if fallbacks is None else fallbacks
    return {key: _expand(value, display, key, environ, used) for key, value in data.items()}


def _parsed(content: bytes) -> dict[str, Any]:
    """tomllib's tables of a file's bytes, parsed once per process for the same bytes: parsing is
    most of loading the config (~70 ms of ~110), which a process that loads it many times (the
    tests, a config a test) repeats on the same files. Keyed by the bytes themselves, so a file
    changed in any way is parsed again. Callers get `_expand`'s copy, never these tables."""
    return _PARSED.get(content, lambda: tomllib.loads(content.decode()))


_PARSED: ProcessMemo[bytes, dict[str, Any]] = ProcessMemo(256)


def _expand(value: Any, display: str, key: str, environ: Mapping[str, str], used: list[Fallback]) -> Any:
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            value = environ.get(name)
            if default is not None and not value:
                used.append(Fallback(display, key, name, default))
                return default  # as in the shell: ${NAME:-default} covers unset and empty
            if value is not None:
                return value
            raise ConfigError(display, key, f"environment variable {name} is not set")

        return _ENV_REF.sub(substitute, value)
    if isinstance(value, dict):
        return {k: _expand(v, display, f"{key}.{k}" if key else k, environ, used) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, display, f"{key}[{i}]", environ, used) for i, v in enumerate(value)]
    return value


def deep_merge(base: dict[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
