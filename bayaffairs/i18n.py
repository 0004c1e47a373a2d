"""Three languages for human-readable text: en, zh-Hant, zh-Hans, with English as the fallback.

Stable codes (error codes, ids) never change with the language; only names and messages do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, is_dataclass
from functools import lru_cache
from typing import Any

LANGUAGES = ("en", "zh-Hant", "zh-Hans")
DEFAULT_LANGUAGE = "en"

# Regional tags mapped onto the script they are written in.
_REGION_SCRIPT = {
    "hk": "zh-Hant",
    "mo": "zh-Hant",
    "tw": "zh-Hant",
    "hant": "zh-Hant",
    "cn": "zh-Hans",
    "sg": "zh-Hans",
    "my": "zh-Hans",
    "hans": "zh-Hans",
}


def _language_of(tag: str) -> str | None:
    parts = tag.strip().lower().replace("_", "-").split("-")
    if not parts or not parts[0]:
        return None
    if parts[0] == "en":
        return "en"
    if parts[0] in ("zh", "yue"):
        for part in parts[1:]:
            if part in _REGION_SCRIPT:
                return _REGION_SCRIPT[part]
        return "zh-Hant" if parts[0] == "yue" else "zh-Hans"
    if parts[0] == "*":
        return DEFAULT_LANGUAGE
    return None


def _best(accept_language: str, *, wildcard: bool) -> str | None:
    """The best of our languages an Accept-Language value names (`*` counted as English only
    with `wildcard`); None when it names none. Any string is read without error: a part that
    does not parse is ignored."""
    choices: list[tuple[float, int, str]] = []
    for position, item in enumerate(accept_language.split(",")[:20]):
        tag, _, params = item.partition(";")
        if not wildcard and tag.strip() == "*":
            continue
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                quality = 0.0
        language = _language_of(tag)
        if language and quality > 0:
            choices.append((-quality, position, language))
    return min(choices)[2] if choices else None


@lru_cache(maxsize=512)
def negotiate(accept_language: str | None) -> str:
    """Pick the best of our three languages for an Accept-Language header value."""
    return (_best(accept_language, wildcard=True) if accept_language else None) or DEFAULT_LANGUAGE


@lru_cache(maxsize=512)
def stated_language(accept_language: str | None) -> str | None:
    """The best of our three languages the header asks for by name; None when it names none of
    them (absent, `*`, only languages we lack, or unreadable): the request states no language we
    can use, so a language kept from before still holds."""
    return _best(accept_language, wildcard=False) if accept_language else None


@dataclass(frozen=True, slots=True)
class Text:
    """A human-readable text in up to three languages; English is required."""

    en: str
    zh_hant: str | None = None
    zh_hans: str | None = None

    def get(self, language: str) -> str:
        if language == "zh-Hant":
            return self.zh_hant or self.zh_hans or self.en
        if language == "zh-Hans":
            return self.zh_hans or self.zh_hant or self.en
        return self.en

    @classmethod
    def from_mapping(cls, value: Mapping[str, str] | str) -> Text:
        if isinstance(value, str):
            return cls(en=value)
        return cls(en=value["en"], zh_hant=value.get("zh-Hant"), zh_hans=value.get("zh-Hans"))

    def as_dict(self) -> dict[str, str]:
        out = {"en": self.en}
        if self.zh_hant:
            out["zh-Hant"] = self.zh_hant
        if self.zh_hans:
            out["zh-Hans"] = self.zh_hans
        return out


def localise(value: object, language: str) -> Any:
    """A value as plain JSON-ready data with every `Text` in `language`: through mappings, lists,
    tuples and dataclasses (their fields by name); anything else as it is."""
    if isinstance(value, Text):
        return value.get(language)
    if isinstance(value, Mapping):
        return {k: localise(v, language) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [localise(v, language) for v in value]
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: localise(getattr(value, f.name), language) for f in fields(value)}
    return value
