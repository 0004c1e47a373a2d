"""Loading the config folder: every mistake stops the start with one ConfigError naming the file
(or environment variable), the key and what is wrong.

Each test copies the shipped config/ folder and breaks exactly one thing in the copy.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from bayaffairs.adapters import registry
from bayaffairs.adapters.base import AdapterContext
from bayaffairs.adapters.registry import Adapters
from bayaffairs.config import Config, ConfigError, load_config

SHIPPED = Path(__file__).resolve().parents[2] / "config"
PROFILES = sorted(p.stem for p in (SHIPPED / "profiles").glob("*.toml"))


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """A private copy of the shipped config/ folder, safe to break."""
    return Path(shutil.copytree(SHIPPED, tmp_path / "config"))


def load(directory: Path, *, profile: str | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Load with an explicit environment, so the caller's BAYAFFAIRS_* variables never leak in."""
    return load_config(directory, profile=profile, environ=environ or {})


def load_adapters(config: Config) -> Adapters:
    return registry.load(config.adapter_blocks, registry.discover(), AdapterContext(http=None))


def replace(path: Path, old: str, new: str) -> None:
    """Edit one file of the copy; fail loudly if the shipped text we break has moved on."""
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} is not in {path} exactly once"
    path.write_text(text.replace(old, new), encoding="utf-8")


def append(path: Path, text: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + "\n" + text, encoding="utf-8")


def assert_error(exc: ConfigError, source: str, key: str, problem: str) -> None:
    assert (exc.source, exc.key) == (source, key)
    assert problem in exc.problem
    assert str(exc).startswith(f"{source}: {key}: " if key else f"{source}: ")
    assert problem in str(exc)


# The shipped configuration


@pytest.mark.parametrize("profile", [None, *PROFILES])
def test_shipped_config_loads_and_every_enabled_adapter_block_validates(profile: str | None) -> None:
    config = load(SHIPPED, profile=profile)

    adapters = load_adapters(config)

    enabled = {b.instance for b in config.adapter_blocks if b.enabled}
    assert enabled
    assert set(adapters.instances) == enabled
    assert config.jurisdictions and config.cities
    assert config.settings.profile == profile


# app.toml and its overlays


def test_invalid_toml_in_app_toml_names_the_file(config_dir: Path) -> None:
    replace(config_dir / "app.toml", "port = 8080", "port = = 8080")

    with pytest.raises(ConfigError) as caught:
        load(config_dir)

    assert_error(caught.value, "config/app.toml", "", "not valid TOML")


def test_unknown_key_in_server_section_is_an_error(config_dir: Path) -> None:
    replace(config_dir / "app.toml", "port = 8080", "port = 8080\nprot = 8081")

    with pytest.raises(ConfigError) as caught:
        load(config_dir)

    assert_error(caught.value, "config/app.toml", "server.prot", "Unknown field")


def test_port_out_of_range_is_an_error(config_dir: Path) -> None:
    replace(config_dir / "app.toml", "port = 8080", "port = 70000")

    with pytest.raises(ConfigError) as caught:
        load(config_dir)

    assert_error(caught.value, "config/app.toml", "server.port", "65535")


def test_a_key_horizon_shorter_than_what_its_issuer_signs_is_an_error(config_dir: Path) -> None:
    """A ticket sold 14 days ahead must still verify on its travel date: 48 hours is too short."""
    append(config_dir / "app.toml", "[signing.presentable_hours]\ntickets = 48\n")

    with pytest.raises(ConfigError) as caught:
        load(config_dir)

    assert_error(caught.value, "config/app.toml", "signing.presentable_hours.tickets", "at least")


def test_each_issuer_gets_its_derived_key_horizon(config_dir: Path) -> None:
    settings = load(config_dir).settings
    hours = settings.signing.presentable_hours
    assert hours["tickets"] >= settings.travel.days_ahead * 24
    assert hours["ride_codes"] >= 72 + settings.ride_codes.offline_window_days * 24


def test_unknown_section_is_named_as_the_key(config_dir: Path) -> None:
    append(config_dir / "app.toml", "[servr]\nport = 8081\n")

    with pytest.raises(ConfigError) as caught:
        load(config_dir)

    assert_error(caught.value, "config/app.toml", "servr", "unknown section")


def test_invalid_environment_override_names_the_variable(config_dir: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load(config_dir, environ={"BAYAFFAIRS_SERVER_PORT": "abc"})

    assert_error(caught.value, "environment variable BAYAFFAIRS_SERVER_PORT", "server.port", "integer")


def test_error_source_belongs_to_the_reported_key_when_a_section_has_several_problems(
    config_dir: Path,
) -> None:
    replace(config_dir / "app.toml", "port = 8080", "port = 8080\ncolour = 1")

    with pytest.raises(ConfigError) as caught:
        load(config_dir, environ={"BAYAFFAIRS_SERVER_PORT": "abc"})

    reported = (caught.value.source, caught.value.key)
    assert reported in {
        ("config/app.toml", "server.colour"),
        ("environment variable BAYAFFAIRS_SERVER_PORT", "server.port"),
    }


def test_profile_overlay_applies_on_top_of_app_toml(config_dir: Path) -> None:
    def dev_enabled(config: Config) -> bool:
        return next(b.enabled for b in config.adapter_blocks if b.instance == "dev")

    assert not dev_enabled(load(config_dir))
    assert dev_enabled(load(config_dir, profile="demo"))


def test_environment_override_beats_the_profile(config_dir: Path) -> None:
    url = "postgresql://postgres@db.example:5432/from_env"

    config = load(config_dir, profile="test", environ={"BAYAFFAIRS_DATABASE_URL": url})

    assert load(config_dir, profile="test").settings.database.url != url
    assert config.settings.database.url == url


def test_env_reference_with_default_uses_the_default_when_unset(config_dir: Path) -> None:
    wechat = {b.instance: b for b in load(config_dir).adapter_blocks}["wechat"]

    assert wechat.settings["app_id"] == "wx-demo-app"


def test_env_reference_takes_the_variable_when_set(config_dir: Path) -> None:
    config = load(config_dir, environ={"BAYAFFAIRS_WECHAT_APP_ID": "wx-from-env"})

    wechat = {b.instance: b for b in config.adapter_blocks}["wechat"]
    assert wechat.settings["app_id"] == "wx-from-env"


def test_env_reference_with_default_uses_the_default_when_the_variable_is_empty(config_dir: Path) -> None:
    config = load(config_dir, environ={"BAYAFFAIRS_WECHAT_APP_ID": ""})

    wechat = {b.instance: b for b in config.adapter_blocks}["wechat"]
    assert wechat.settings["app_id"] == "wx-demo-app"


def test_missing_env_reference_without_default_is_an_error(config_dir: Path) -> None:
    replace(
        config_dir / "app.toml",
        '"${BAYAFFAIRS_WECHAT_APP_SECRET:-demo-secret}"',
        '"${BAYAFFAIRS_WECHAT_APP_SECRET}"',
    )

    with pytest.raises(ConfigError) as caught:
        load(config_dir)

    assert_error(
        caught.value,
        "config/app.toml",
        "adapters.wechat.app_secret",
        "environment variable BAYAFFAIRS_WECHAT_APP_SECRET is not set",
    )


# Jurisdictions and cities


def test_city_naming_an_unknown_jurisdiction_is_an_error(config_dir: Path) -> None:
    replace(config_dir / "cities" / "macao.toml", 'jurisdiction = "macao"', 'jurisdiction = "atlantis"')

    with pytest.raises(ConfigError) as caught:
        load(config_dir)

    assert_error(caught.value, "config/cities/macao.toml", "jurisdiction", "unknown jurisdiction 'atlantis'")


def test_jurisdiction_id_must_equal_its_file_name(config_dir: Path) -> None:
    replace(config_dir / "jurisdictions" / "macao.toml", 'id = "macao"', 'id = "macau"')

    with pytest.raises(ConfigError) as caught:
        load(config_dir)

    assert_error(caught.value, "config/jurisdictions/macao.toml", "id", "must equal the file name 'macao'")


def test_time_zone_must_be_an_iana_zone(config_dir: Path) -> None:
    # The jurisdiction's own zone (its first line; the file's video counters are in Macao too).
    replace(
        config_dir / "jurisdictions" / "macao.toml", '"Asia/Macau"\nlanguages', '"Asia/Atlantis"\nlanguages'
    )

    with pytest.raises(ConfigError) as caught:
        load(config_dir)

    assert_error(
        caught.value,
        "config/jurisdictions/macao.toml",
        "time_zone",
        "'Asia/Atlantis' is not an IANA time zone",
    )


def test_currency_must_be_a_known_one(config_dir: Path) -> None:
    replace(config_dir / "jurisdictions" / "macao.toml", 'currency = "MOP"', 'currency = "XAU"')

    with pytest.raises(ConfigError) as caught:
        load(config_dir)

    assert_error(caught.value, "config/jurisdictions/macao.toml", "currency", "Must be one of")


# Adapter blocks


def test_adapter_block_naming_a_missing_adapter_folder_is_an_error(config_dir: Path) -> None:
    append(config_dir / "app.toml", '[adapters.parking]\nadapter = "no_such_adapter"\n')
    config = load(config_dir)

    with pytest.raises(ConfigError) as caught:
        load_adapters(config)

    assert_error(
        caught.value,
        "config/app.toml",
        "adapters.parking.adapter",
        "no adapter folder integrations/no_such_adapter/",
    )


def test_adapter_block_with_an_unknown_settings_key_is_an_error(config_dir: Path) -> None:
    replace(config_dir / "app.toml", "[adapters.wechat]\n", '[adapters.wechat]\ncolour = "red"\n')
    config = load(config_dir)

    with pytest.raises(ConfigError) as caught:
        load_adapters(config)

    assert_error(caught.value, "config/app.toml", "adapters.wechat.colour", "Unknown field")


def test_adapter_block_error_names_app_toml_even_when_a_profile_overlays_other_adapters(
    config_dir: Path,
) -> None:
    replace(config_dir / "app.toml", "[adapters.wechat]\n", '[adapters.wechat]\ncolour = "red"\n')
    config = load(config_dir, profile="demo")

    with pytest.raises(ConfigError) as caught:
        load_adapters(config)

    assert_error(caught.value, "config/app.toml", "adapters.wechat.colour", "Unknown field")


def test_same_adapter_instance_declared_twice_is_an_error(config_dir: Path) -> None:
    append(config_dir / "cities" / "macao.toml", '[adapters.wechat]\napp_id = "wx-macao"\n')

    with pytest.raises(ConfigError) as caught:
        load(config_dir)

    assert_error(
        caught.value, "config/cities/macao.toml", "adapters.wechat", "already declared in config/app.toml"
    )


# The check-config command


def check_config(directory: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BAYAFFAIRS_")}
    env["BAYAFFAIRS_CONFIG_DIR"] = str(directory)
    return subprocess.run(
        [sys.executable, "-m", "bayaffairs.cli.main", "check-config"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_check_config_on_a_broken_copy_exits_2_with_one_line_naming_file_and_key(config_dir: Path) -> None:
    replace(config_dir / "app.toml", "port = 8080", "port = 0")

    result = check_config(config_dir)

    assert result.returncode == 2, result
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "config/app.toml" in lines[0]
    assert "server.port" in lines[0]
    assert result.stdout == ""


def test_check_config_reports_an_adapter_block_error_on_stderr(config_dir: Path) -> None:
    replace(config_dir / "app.toml", "[adapters.wechat]\n", '[adapters.wechat]\ncolour = "red"\n')

    result = check_config(config_dir)

    assert result.returncode == 2, result
    lines = result.stderr.splitlines()
    assert len(lines) == 1, (result.stdout, result.stderr)
    assert "config/app.toml" in lines[0]
    assert "adapters.wechat.colour" in lines[0]


def test_a_recipients_privacy_contact_is_checked_and_named(config_dir: Path) -> None:
    replace(
        config_dir / "cities" / "hong_kong.toml",
        'privacy_contact = { email = "dpo@xrl.example"',
        'privacy_contact = { email = "not an address"',
    )

    with pytest.raises(ConfigError) as caught:
        load(config_dir)

    assert_error(caught.value, "config/cities/hong_kong.toml", "adapters.xrl.privacy_contact.email", "email")


def test_a_privacy_contact_is_kept_beside_the_adapters_own_settings(config_dir: Path) -> None:
    config = load(config_dir)
    xrl = next(b for b in config.adapter_blocks if b.instance == "xrl")
    assert xrl.privacy_contact is not None and xrl.privacy_contact.email == "dpo@xrl.example"
    assert "privacy_contact" not in xrl.settings


def test_a_file_read_again_gives_fresh_tables_and_any_change_is_read(tmp_path: Path) -> None:
    """Parsed tables are kept per process for the same bytes (bayaffairs/config/files.py): what
    a caller does to its tables never reaches the next reader, and a file changed even within
    its size (and the clock's tick) is read as it is now."""
    from bayaffairs.config.files import read_toml

    path = tmp_path / "app.toml"
    path.write_text('[server]\nport = 8080\nhosts = ["a"]\n', encoding="utf-8")
    first = read_toml(path, "app.toml", environ={})
    first["server"]["port"] = 1
    first["server"]["hosts"].append("b")
    assert read_toml(path, "app.toml", environ={}) == {"server": {"port": 8080, "hosts": ["a"]}}
    path.write_text('[server]\nport = 8081\nhosts = ["a"]\n', encoding="utf-8")  # the same size
    assert read_toml(path, "app.toml", environ={}) == {"server": {"port": 8081, "hosts": ["a"]}}
