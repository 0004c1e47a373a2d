"""The adapter folders as the registry sees them, and the template a new adapter starts from."""

from __future__ import annotations

import dataclasses
import shutil
import textwrap
from pathlib import Path

import pytest

from bayaffairs.adapters.base import Adapter, Manifest
from bayaffairs.adapters.registry import adapter_class, discover, read_manifest
from bayaffairs.config.errors import ConfigError
from bayaffairs.i18n import Text
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


def _adapter_package(root: Path, monkeypatch: pytest.MonkeyPatch, adapter_id: str, source: str) -> str:
    """A package (named for the test) of one adapter folder outside integrations/."""
    package = f"elsewhere_{adapter_id}"
    (root / package / adapter_id).mkdir(parents=True)
    (root / package / "__init__.py").write_text("")
    (root / package / adapter_id / "__init__.py").write_text("")
    (root / package / adapter_id / "adapter.py").write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(root))
    return package


def test_a_class_that_leaves_verbs_of_its_kind_unimplemented_is_refused_naming_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = _adapter_package(
        tmp_path,
        monkeypatch,
        "half_carrier",
        """
        from bayaffairs.travel.configured import ConfiguredCarrier

        class HalfCarrier(ConfiguredCarrier):
            async def hold(self, request):
                raise AssertionError("not called")
        """,
    )
    manifest = Manifest("half_carrier", "border_carrier", Text("Half"), "HalfCarrier")
    with pytest.raises(ConfigError, match=r"HalfCarrier lacks cancel, cancel_passengers, confirm, release$"):
        adapter_class(package, manifest)


def test_a_class_that_does_not_extend_the_base_of_its_manifests_kind_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = _adapter_package(
        tmp_path,
        monkeypatch,
        "misfiled",
        """
        from bayaffairs.travel.configured import LocalCarrier

        class Misfiled(LocalCarrier):
            pass
        """,
    )
    manifest = Manifest("misfiled", "counter_agency", Text("Misfiled"), "Misfiled")
    with pytest.raises(ConfigError, match="Misfiled does not extend CounterAgency"):
        adapter_class(package, manifest)
