"""Profiles: demo (what scripts/run serves), test, and production (no profile named). Production
refuses committed demo secrets, `${NAME:-fallback}` values of secrets and demo adapters."""

from __future__ import annotations

import base64
import shutil
from collections.abc import Mapping
from pathlib import Path

import pytest

from bayaffairs.adapters import registry
from bayaffairs.config import Config, load_config
from bayaffairs.config.production import Problem, check

SHIPPED = Path(__file__).resolve().parents[2] / "config"
DEMO_ADAPTERS = {"dev", "demo_payment", "demo_fx", "demo_notifier"}


def load(
    directory: Path = SHIPPED, *, profile: str | None = None, environ: Mapping[str, str] | None = None
) -> Config:
    return load_config(directory, profile=profile, environ=environ or {})


def demo_modules() -> set[str]:
    return {m.id for m in registry.discover().values() if m.demo_only}


def problems(config: Config) -> dict[str, Problem]:
    return {p.key: p for p in check(config, demo_modules()).problems}


def new_key(key_id: str, fill: int) -> str:
    return f"{key_id}:{base64.b64encode(bytes([fill]) * 32).decode()}"


# What a deployment sets from its secret store (keys made like `bayaffairs keys generate` does).
PRODUCTION_ENV = {
    "BAYAFFAIRS_SECRETS_DOCUMENTS_KEYS": new_key("doc2026", 1),
    "BAYAFFAIRS_SECRETS_SIGNING_KEYS": new_key("seal2026", 2),
    "BAYAFFAIRS_SECRETS_FINGERPRINT_KEYS": new_key("doc2026", 4),
    "BAYAFFAIRS_WECHAT_APP_ID": "wx1234567890",
    "BAYAFFAIRS_WECHAT_APP_SECRET": "a-real-secret-from-the-store",
    "BAYAFFAIRS_METRICS_TOKEN": "a-scrapers-token-from-the-store",
}


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    return Path(shutil.copytree(SHIPPED, tmp_path / "config"))


def test_the_demo_adapters_are_the_ones_their_manifests_mark() -> None:
    assert demo_modules() == DEMO_ADAPTERS


@pytest.mark.parametrize("profile", [None, "production", "demo", "test"])
def test_demo_adapters_are_enabled_only_by_the_demo_and_test_profiles(profile: str | None) -> None:
    config = load(profile=profile)

    enabled = {b.module for b in config.adapter_blocks if b.enabled and b.module in DEMO_ADAPTERS}

    assert enabled == (DEMO_ADAPTERS if profile in ("demo", "test") else set())


def test_production_is_named_by_no_profile_or_by_its_name() -> None:
    assert load().settings.profile is None
    assert load(profile="production").settings.profile is None
    assert load(environ={"BAYAFFAIRS_PROFILE": "production"}).settings.profile_name == "production"
    assert load(profile="demo").settings.profile_name == "demo"


def test_the_shipped_config_in_production_names_each_demo_secret_and_fallback_with_its_source() -> None:
    found = problems(load())

    assert set(found) == {
        "secrets.documents_keys",
        "secrets.signing_keys",
        "adapters.wechat.app_id",
        "adapters.wechat.app_secret",
        "metrics",
    }
    assert {p.source for p in found.values()} == {"config/app.toml"}
    assert "demo1" in found["secrets.documents_keys"].problem
    assert "BAYAFFAIRS_SECRETS_DOCUMENTS_KEYS" in found["secrets.documents_keys"].problem
    assert "bayaffairs keys generate" in found["secrets.signing_keys"].problem
    assert "BAYAFFAIRS_WECHAT_APP_SECRET" in found["adapters.wechat.app_secret"].problem
    assert "demo-secret" in found["adapters.wechat.app_secret"].problem
    line = str(found["adapters.wechat.app_secret"])
    assert line.startswith("config/app.toml: adapters.wechat.app_secret: ")


def test_production_with_its_own_secrets_has_no_problem_and_says_what_it_checked() -> None:
    report = check(load(environ=PRODUCTION_ENV), demo_modules())

    assert report.problems == []
    checked = "\n".join(report.checked)
    for what in ("secrets.documents_keys", "secrets.signing_keys", "demo adapters", "fallback"):
        assert what in checked


def test_a_demo_key_set_through_the_environment_is_still_refused() -> None:
    demo_key = "demo1:ZGVtby1vbmx5LWRvY3VtZW50LWtleS0zMi1ieXRlcyE="
    renamed = "mine:" + demo_key.split(":", 1)[1]  # the same key material under another id
    env = {**PRODUCTION_ENV, "BAYAFFAIRS_SECRETS_DOCUMENTS_KEYS": f"{new_key('doc2027', 3)},{renamed}"}

    found = problems(load(environ=env))

    assert set(found) == {"secrets.documents_keys"}
    assert found["secrets.documents_keys"].source == "environment variable BAYAFFAIRS_SECRETS_DOCUMENTS_KEYS"
    assert "mine" in found["secrets.documents_keys"].problem


def test_rotating_the_documents_keys_without_a_fingerprint_key_is_refused() -> None:
    """Unset, the fingerprint key is derived from the first documents key: a rotation would
    change every document's fingerprint (issue 11)."""
    rotating = f"{new_key('doc2027', 3)},{new_key('doc2026', 1)}"
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "BAYAFFAIRS_SECRETS_FINGERPRINT_KEYS"}
    assert problems(load(environ=env)) == {}
    found = problems(load(environ={**env, "BAYAFFAIRS_SECRETS_DOCUMENTS_KEYS": rotating}))
    assert set(found) == {"secrets.fingerprint_keys"}
    assert "bayaffairs keys fingerprint-key --from doc2026" in found["secrets.fingerprint_keys"].problem
    assert problems(load(environ={**PRODUCTION_ENV, "BAYAFFAIRS_SECRETS_DOCUMENTS_KEYS": rotating})) == {}


def test_a_demo_adapter_enabled_in_local_toml_is_refused_naming_the_file(config_dir: Path) -> None:
    (config_dir / "local.toml").write_text("[adapters.demo]\nenabled = true\n", encoding="utf-8")

    found = problems(load(config_dir, environ=PRODUCTION_ENV))

    assert set(found) == {"adapters.demo"}
    assert found["adapters.demo"].source == "config/local.toml"
    assert "demo_payment" in found["adapters.demo"].problem


def test_a_fallback_replaced_by_a_later_layer_is_not_reported(config_dir: Path) -> None:
    (config_dir / "local.toml").write_text(
        '[adapters.wechat]\napp_id = "wx-local"\napp_secret = "from-local"\n', encoding="utf-8"
    )
    env = {k: v for k, v in PRODUCTION_ENV.items() if "WECHAT" not in k}

    assert problems(load(config_dir, environ=env)) == {}


def test_the_demo_and_test_profiles_are_not_checked_for_production() -> None:
    for profile in ("demo", "test"):
        report = check(load(profile=profile), demo_modules())
        assert report.problems == []
        assert any("not production" in line for line in report.checked)


@pytest.mark.parametrize(
    ("block", "instead"),
    [
        ("demo_notifier", ("webhook_notifier", "[travel] notifier", "notifier of each counter agency")),
        ("demo", ("wallet_gateway", "BAYAFFAIRS_WALLET_GATEWAY_URL")),
        ("demo_fx", ("fx_feed", "BAYAFFAIRS_FX_FEED_URL")),
    ],
)
def test_a_demo_adapter_refused_in_production_says_what_to_configure_instead(
    config_dir: Path, block: str, instead: tuple[str, ...]
) -> None:
    (config_dir / "local.toml").write_text(f"[adapters.{block}]\nenabled = true\n", encoding="utf-8")

    found = problems(load(config_dir, environ=PRODUCTION_ENV))

    assert set(found) == {f"adapters.{block}"}
    for what in instead:
        assert what in found[f"adapters.{block}"].problem, found[f"adapters.{block}"].problem


def test_production_refuses_metrics_open_on_the_api_port() -> None:
    """/metrics on the API's port with no token is anyone's: route counts, pool sizes."""
    open_env = {k: v for k, v in PRODUCTION_ENV.items() if k != "BAYAFFAIRS_METRICS_TOKEN"}

    found = problems(load(environ=open_env))
    private_port = problems(load(environ={**open_env, "BAYAFFAIRS_METRICS_PORT": "9100"}))
    off = problems(load(environ={**open_env, "BAYAFFAIRS_METRICS_ENABLED": "false"}))

    assert set(found) == {"metrics"}, found
    for what in ("BAYAFFAIRS_METRICS_TOKEN", "BAYAFFAIRS_METRICS_PORT"):
        assert what in found["metrics"].problem
    assert private_port == {} and off == {}


def test_the_demo_profile_listens_on_this_machine_only() -> None:
    """scripts/run serves the demo (the `dev` sign-in, committed keys): not to the network."""
    assert load(profile="demo").settings.server.host == "127.0.0.1"
    everywhere = "0.0.0.0"  # noqa: S104 (what the test is about)
    shown = load(profile="demo", environ={"BAYAFFAIRS_SERVER_HOST": everywhere})
    assert shown.settings.server.host == everywhere
    assert load().settings.server.host == everywhere  # production: behind its proxy
