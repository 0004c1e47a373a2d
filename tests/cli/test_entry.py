"""The command runs as `python -m bayaffairs` as well as `bayaffairs`, and says its version once."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import bayaffairs

ROOT = Path(__file__).resolve().parents[2]


def test_python_dash_m_bayaffairs_runs_the_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bayaffairs", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: bayaffairs") and "check-config" in done.stdout


def test_the_version_is_written_in_one_place() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert version("bayaffairs") == bayaffairs.__version__
