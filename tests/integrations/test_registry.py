"""The adapter folders as the registry sees them, and the template a new adapter starts from."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from bayaffairs.adapters.base import Adapter
from bayaffairs.adapters.registry import adapter_class, discover, read_manifest
from bayaffairs.config.errors import ConfigError
from tests.integrations.support import INTEGRATIONS, PACKAGE

ADAPTERS = {
    "wechat": "identity_provider",
    "alipay": "identity_provider",
    "iamsmart": "identity_provider",
    "macao_one_account": "identity_provider",
    "dev": "identity_provider",
    "demo_payment": "payment_provider",
    "demo_fx": "fx_rate_source",
    "demo_notifier": "notifier",
    "wallet_gateway": "payment_provider",
    "webhook_notifier": "notifier",
    "turbojet": "border_carrier",
}


def test_discovery_finds_every_adapter_and_skips_the_template() -> None:
    found = discover(INTEGRATIONS)
    assert {k: m.kind for k, m in found.items() if k in ADAPTERS} == ADAPTERS
    assert "_template" not in found


@pytest.mark.parametrize("adapter_id", sorted(ADAPTERS))
def test_adapter_class_loads_and_covers_its_protocol(adapter_id: str) -> None:
    manifest = read_manifest(INTEGRATIONS / adapter_id)
    assert issubclass(adapter_class(PACKAGE, manifest), Adapter)


def test_template_manifest_is_refused_until_filled_in() -> None:
    with pytest.raises(ConfigError):
        read_manifest(INTEGRATIONS / "_template")


def test_template_is_a_valid_adapter_once_filled_in(tmp_path: Path) -> None:
    folder = tmp_path / "example_partner"
    shutil.copytree(INTEGRATIONS / "_template", folder)
    manifest_file = folder / "manifest.toml"
    text = manifest_file.read_text(encoding="utf-8")
    for placeholder, value in {
        "<ID>": "example_partner",
        "<KIND>": "identity_provider",
        "<ClassName>": "TemplateAdapter",
        "<@TEAM>": "@bayaffairs/identity",
    }.items():
        text = text.replace(placeholder, value)
    manifest_file.write_text(text, encoding="utf-8")
    manifest = read_manifest(folder)
    # The skeleton itself imports and satisfies the identity-provider protocol.
    template = dataclasses.replace(manifest, id="_template")
    assert issubclass(adapter_class(PACKAGE, template), Adapter)
