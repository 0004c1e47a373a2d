"""One clear message for a bad configuration: which file, which key, what is wrong."""

from __future__ import annotations

from collections.abc import Mapping


class ConfigError(Exception):
    def __init__(self, source: str, key: str, problem: str, *, more: int = 0) -> None:
        self.source = source
        self.key = key
        self.problem = problem
        self.more = more
        tail = f" (and {more} more problem{'s' if more > 1 else ''} after fixing this)" if more else ""
        where = f"{source}: {key}" if key else source
        super().__init__(f"{where}: {problem}{tail}")


def flatten_errors(messages: object, prefix: str = "") -> list[tuple[str, str]]:
    """Turn marshmallow's nested errors (dicts, lists and strings) into (dotted.key, message)
    pairs, sorted by key."""
    out: list[tuple[str, str]] = []
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            path = f"{prefix}.{key}" if prefix and key != "" else str(key) or prefix
            out.extend(flatten_errors(value, path))
    elif isinstance(messages, list) and messages and all(isinstance(m, str) for m in messages):
        out.append((prefix, " ".join(messages)))
    elif isinstance(messages, list):
        for item in messages:
            out.extend(flatten_errors(item, prefix))
    else:
        out.append((prefix, str(messages)))
    return sorted(out)


def config_error_from(source: str, messages: object, prefix: str = "") -> ConfigError:
    pairs = flatten_errors(messages, prefix)
    key, problem = pairs[0] if pairs else (prefix, "invalid")
    return ConfigError(source, key, problem, more=len(pairs) - 1)
