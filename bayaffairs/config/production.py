"""What production refuses: secrets committed to the repository, `${NAME:-fallback}` values of
secrets and of enabled adapters' settings, and demo adapters.

Production is the configuration that runs when no profile is named. `bayaffairs serve` and
`bayaffairs check-config` stop there with one line per problem (the key and where it was set);
the demo and test profiles allow all of it.
"""

from __future__ import annotations

import binascii
import tomllib
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from marshmallow import ValidationError

from bayaffairs.config.loader import Config
from bayaffairs.config.settings import parse_key

SECRET_KEYS = ("documents_keys", "signing_keys", "fingerprint_keys")
SHIPPED_CONFIG = Path(__file__).resolve().parents[2] / "config"
GENERATE = "bayaffairs keys generate"
# What a deployment configures in place of each demo adapter (README: Profiles and production).
INSTEAD = {
    "demo_notifier": (
        "; in its place enable [adapters.webhook_notifier] (BAYAFFAIRS_NOTIFY_WEBHOOK_URL,"
        " BAYAFFAIRS_NOTIFY_WEBHOOK_TOKEN) and name it in [travel] notifier and in the notifier of"
        " each counter agency (config/jurisdictions/*.toml)"
    ),
    "demo_payment": (
        "; in its place enable [adapters.wallet_gateway] (BAYAFFAIRS_WALLET_GATEWAY_URL,"
        " BAYAFFAIRS_WALLET_GATEWAY_MERCHANT_ID, BAYAFFAIRS_WALLET_GATEWAY_SECRET)"
    ),
    "demo_fx": "; in its place enable [adapters.fx_feed] (BAYAFFAIRS_FX_FEED_URL, BAYAFFAIRS_FX_FEED_KEY)",
    "dev": "; riders sign in with the identity providers (wechat, alipay, iamsmart, macao_one_account)",
}


@dataclass(frozen=True)
class Problem:
    source: str
    key: str
    problem: str

    def __str__(self) -> str:
        return f"{self.source}: {self.key}: {self.problem}"


@dataclass
class Report:
    """`checked`: what was looked at, in words; `problems`: what production refuses."""

    checked: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def check(config: Config, demo_adapters: Collection[str]) -> Report:
    """`demo_adapters`: the adapter folders whose manifests say `demo_only`."""
    report = Report()
    if config.settings.profile is not None:
        report.checked.append(
            f"profile {config.settings.profile} is not production: demo secrets and demo adapters are"
            " allowed (production, with no BAYAFFAIRS_PROFILE, refuses them)"
        )
        return report
    committed = committed_key_material([config.directory, SHIPPED_CONFIG])
    for name in SECRET_KEYS:
        key = f"secrets.{name}"
        entries: tuple[tuple[str, bytes], ...] = getattr(config.settings.secrets, name)
        demo = [kid for kid, material in entries if material in committed]
        source = config.sources.get(key, "config/app.toml")
        variable = f"BAYAFFAIRS_SECRETS_{name.upper()}"
        report.checked.append(
            f"{key}: {len(entries)} key(s) from {source}, compared with the keys committed to the repository"
        )
        if demo:
            report.problems.append(
                Problem(
                    source,
                    key,
                    f"{', '.join(repr(k) for k in demo)} is a demo key committed to the repository: make one"
                    f" with `{GENERATE}` and set {variable} from your secret store",
                )
            )
    secrets = config.settings.secrets
    report.checked.append("secrets.fingerprint_keys: set before documents_keys rotate")
    if not secrets.fingerprint_keys and len(secrets.documents_keys) > 1:
        first = secrets.documents_keys[1][0]  # the first before this rotation
        report.problems.append(
            Problem(
                config.sources.get("secrets.documents_keys", "config/app.toml"),
                "secrets.fingerprint_keys",
                "documents_keys are rotating but fingerprint_keys is not set, so every document's"
                " fingerprint would change with the new first key (a document added again would be a"
                " new person): set BAYAFFAIRS_SECRETS_FINGERPRINT_KEYS to the output of"
                f" `bayaffairs keys fingerprint-key --from {first}` (the key the fingerprints were"
                " made under; nothing changes)",
            )
        )
    enabled = {b.instance: b for b in config.adapter_blocks if b.enabled}
    names = ", ".join(sorted(demo_adapters)) or "none"
    report.checked.append(f"demo adapters ({names}): whether any is enabled")
    for block in enabled.values():
        if block.module in demo_adapters:
            report.problems.append(
                Problem(
                    config.sources.get(f"adapters.{block.instance}", block.source),
                    f"adapters.{block.instance}",
                    f"enables {block.module}, a demo adapter (demo and test profiles only): remove the"
                    f" block or set enabled = false{INSTEAD.get(block.module, '')}",
                )
            )
    metrics = config.settings.metrics
    report.checked.append("[metrics]: whether /metrics is open to anyone on the API's port")
    if metrics.enabled and metrics.port is None and metrics.token is None:
        report.problems.append(
            Problem(
                config.sources.get("metrics.token", "config/app.toml"),
                "metrics",
                "/metrics is served on the API's port to anyone (no token): set BAYAFFAIRS_METRICS_TOKEN"
                " (24+ characters, scrapers send it as a bearer token), or BAYAFFAIRS_METRICS_PORT to"
                " serve it on a private address of its own, or BAYAFFAIRS_METRICS_ENABLED=false",
            )
        )
    report.checked.append(
        "${NAME:-fallback} values of secrets and of enabled adapters' settings: whether a fallback is"
        " used (an empty fallback means not set and is allowed)"
    )
    for used in config.fallbacks:
        section, _, rest = used.key.partition(".")
        instance = rest.split(".", 1)[0].split("[", 1)[0]
        relevant = section == "secrets" or (section == "adapters" and instance in enabled)
        if relevant and used.value:
            report.problems.append(
                Problem(
                    used.source,
                    used.key,
                    f"{used.variable} is not set, so the fallback {used.value!r} is used:"
                    f" set {used.variable}",
                )
            )
    return report


def committed_key_material(directories: Collection[Path]) -> set[bytes]:
    """The key material of every `[secrets]` entry in app.toml and the profiles of these folders
    (the repository's own config/ among them): keys anyone with the repository has."""
    material: set[bytes] = set()
    for directory in set(directories):
        for path in [directory / "app.toml", *sorted((directory / "profiles").glob("*.toml"))]:
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except (OSError, tomllib.TOMLDecodeError):
                continue
            for entry in _strings(data.get("secrets", {})):
                try:
                    material.add(parse_key(entry)[1])
                except (ValidationError, binascii.Error):
                    continue
    return material


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
