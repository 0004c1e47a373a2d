"""Our "hassfest": checks every adapter manifest, every config block and the import rules.

A new city or agency must pass this before it lands: its manifest is valid, every config block
that names it validates against its settings schema, and it keeps to the layering.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from bayaffairs.adapters import registry
from bayaffairs.config import load_config
from bayaffairs.errors import DomainError
from bayaffairs.messages import MESSAGES

ROOT = Path(__file__).resolve().parents[1]
PROFILES = [None, *sorted(p.stem for p in (ROOT / "config" / "profiles").glob("*.toml"))]
ERROR_CLASSES = {cls.__name__ for cls in [DomainError, *DomainError.__subclasses__()]}


def python_files(folder: str) -> Iterator[Path]:
    yield from (p for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts)


def imports_of(path: Path) -> Iterator[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def test_every_adapter_folder_has_a_valid_manifest() -> None:
    folders = {
        p.name
        for p in (ROOT / "integrations").iterdir()
        if p.is_dir() and not p.name.startswith(("_", ".")) and p.name != "__pycache__"
    }
    manifests = registry.discover()
    assert set(manifests) == folders
    for manifest in manifests.values():
        registry.adapter_class("bayaffairs.integrations", manifest)


def test_the_template_manifest_is_skipped_but_present() -> None:
    assert (ROOT / "integrations" / "_template" / "manifest.toml").exists()
    assert "_template" not in registry.discover()


@pytest.mark.parametrize("profile", PROFILES)
def test_every_config_block_validates_against_its_adapter(profile: str | None) -> None:
    config = load_config(profile=profile, environ={})
    manifests = registry.discover()
    assert config.adapter_blocks
    for block in config.adapter_blocks:
        assert block.module in manifests, f"{block.source}: adapters.{block.instance}"
        if not block.enabled and not block.settings:
            continue  # a bare `enabled = false` placeholder; a disabled block with settings must validate
        cls = registry.adapter_class("bayaffairs.integrations", manifests[block.module])
        registry.validate_settings(cls, block)


@pytest.mark.parametrize("profile", PROFILES)
def test_every_recipient_of_personal_data_names_its_contact(profile: str | None) -> None:
    """PIPL art. 39: a rider is told who receives their data and how to reach them, so every
    carrier and agency block (enabled or ready to be) declares `privacy_contact`."""
    config = load_config(profile=profile, environ={})
    manifests = registry.discover()
    kinds = ("border_carrier", "counter_agency")
    missing = [
        f"{b.source}: adapters.{b.instance}"
        for b in config.adapter_blocks
        if manifests[b.module].kind in kinds and (b.enabled or b.settings) and b.privacy_contact is None
    ]
    assert not missing, "no privacy_contact: " + ", ".join(missing)


def domain_files() -> Iterator[Path]:
    """bayaffairs/ but the composition root, bayaffairs/wiring/ (see below), and
    bayaffairs/__main__.py (`python -m bayaffairs`: the command's entry point)."""
    wiring, entry = ROOT / "bayaffairs" / "wiring", ROOT / "bayaffairs" / "__main__.py"
    yield from (p for p in python_files("bayaffairs") if wiring not in p.parents and p != entry)


def test_the_domain_imports_no_http_driver_or_adapter_nor_the_composition_root() -> None:
    banned = (
        "aiohttp",
        "asyncpg",
        "redis",
        "bayaffairs.handlers",
        "bayaffairs.integrations",
        "bayaffairs.cli",
        "bayaffairs.wiring",
    )
    offences = []
    for path in domain_files():
        for name in imports_of(path):
            if name.startswith(banned) or (
                name.startswith("bayaffairs.db") and not name.startswith("bayaffairs.db.queries")
            ):
                offences.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offences == []


def test_the_composition_root_imports_no_handler_command_or_adapter() -> None:
    """bayaffairs/wiring/ is where the drivers (asyncpg, Redis, aiohttp) meet the domain: it may
    import them and the db layer, unlike the rest of bayaffairs/. The web app and the commands
    build on it, never the reverse; adapters come to it through the registry, by name."""
    offences = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in python_files("bayaffairs/wiring")
        for name in imports_of(path)
        if name.startswith(("bayaffairs.handlers", "bayaffairs.cli", "bayaffairs.integrations"))
    ]
    assert offences == []


def test_query_modules_import_no_driver() -> None:
    offences = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in python_files("db/queries")
        for name in imports_of(path)
        if name.startswith(("asyncpg", "aiohttp", "redis", "bayaffairs.handlers"))
    ]
    assert offences == []


def test_an_adapter_imports_no_other_adapter_nor_the_web_or_database_layers() -> None:
    """Modules directly in integrations/ (remote.py: the remote-partner base) are shared by
    adapters and are not adapters; every folder is one adapter."""
    shared_files = list((ROOT / "integrations").glob("*.py"))
    shared = {f"bayaffairs.integrations.{p.stem}" for p in shared_files}
    owners = [(path, "bayaffairs.integrations.__shared__") for path in shared_files]
    for folder in (ROOT / "integrations").iterdir():
        if folder.is_dir() and folder.name != "__pycache__":
            own = f"bayaffairs.integrations.{folder.name}"
            owners += [(path, own) for path in python_files(f"integrations/{folder.name}")]
    offences = []
    for path, own in owners:
        for name in imports_of(path):
            other_adapter = (
                name.startswith("bayaffairs.integrations.")
                and not name.startswith(own)
                and name not in shared
            )
            if other_adapter or name.startswith(("bayaffairs.handlers", "bayaffairs.db", "bayaffairs.cli")):
                offences.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offences == []


def test_nothing_imports_the_folders_by_their_checkout_names() -> None:
    offences = [
        f"{path.relative_to(ROOT)} imports {name}"
        for folder in ("bayaffairs", "handlers", "db", "integrations", "cli", "gate", "tests")
        for path in python_files(folder)
        for name in imports_of(path)
        if name.split(".")[0] in ("handlers", "db", "integrations", "cli", "gate")
    ]
    assert offences == []


def test_every_error_code_raised_has_messages_in_three_languages() -> None:
    """Codes are the first string argument of a DomainError (or subclass) call."""
    codes: set[str] = set()
    for folder in ("bayaffairs", "handlers", "db", "integrations", "cli"):
        for path in python_files(folder):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name)
                    and node.func.id in ERROR_CLASSES
                ):
                    args = [a for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
                    codes.update(a.value for a in args[:1] if node.func.id != "InvalidInput")
                    codes.update(a.value for a in args[1:2] if node.func.id == "InvalidInput")
    missing = sorted(code for code in codes if code not in MESSAGES)
    assert missing == []
