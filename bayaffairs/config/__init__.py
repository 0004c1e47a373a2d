"""Configuration: settings, jurisdictions, cities and adapter blocks, validated at start."""

from bayaffairs.config.errors import ConfigError
from bayaffairs.config.loader import Config, default_config_dir, load_config
from bayaffairs.config.regions import AdapterBlock, City, Jurisdiction
from bayaffairs.config.settings import Settings

__all__ = [
    "AdapterBlock",
    "City",
    "Config",
    "ConfigError",
    "Jurisdiction",
    "Settings",
    "default_config_dir",
    "load_config",
]
