"""Reads origin-destination fare tables (CSV), the one tariff too large for a config block.

Shape: a header `from,to,adult,child,student,elderly`, then one row per station pair with fares
in minor units. Lines starting with `#` are comments (say there where the numbers come from).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from bayaffairs.config.loader import default_config_dir

COLUMNS = ("from", "to", "adult", "child", "student", "elderly")


def resolve(path: str) -> Path:
    """A tariff path as config gives it: absolute, or relative to the config folder."""
    candidate = Path(path)
    return candidate if candidate.is_absolute() else default_config_dir() / candidate


def read_od_table(path: Path) -> tuple[list[dict[str, Any]], list[int]]:
    """The rows (fares as int) and the file line of each; ValueError says what is wrong where."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    numbered = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip() and line[0] != "#"]
    if not numbered:
        raise ValueError(f"{path} has no header")
    reader = csv.reader(line for _, line in numbered)
    header = tuple(column.strip() for column in next(reader))
    if header != COLUMNS:
        raise ValueError(f"line {numbered[0][0]}: the header must be {','.join(COLUMNS)}")
    rows, lines = [], []
    for (number, _), values in zip(numbered[1:], reader, strict=True):
        if len(values) != len(COLUMNS):
            raise ValueError(f"line {number}: expected {len(COLUMNS)} values, got {len(values)}")
        row: dict[str, Any] = {"from": values[0].strip(), "to": values[1].strip()}
        for column, value in zip(COLUMNS[2:], values[2:], strict=True):
            if not value.strip().isdigit():
                raise ValueError(f"line {number}: {column} must be a whole number of minor units")
            row[column] = int(value)
        rows.append(row)
        lines.append(number)
    return rows, lines
