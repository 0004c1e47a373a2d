"""The README's settlement CSV excerpt has the columns and rows the service really writes."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from bayaffairs.transit.settlement import CSV_COLUMNS, FARE_TOTAL_KEYS, LINE_KINDS

README = Path(__file__).parents[2] / "README.md"


def excerpt() -> list[list[str]]:
    """The rows of the README's code blocks that start with a `# settlement` header."""
    text = README.read_text(encoding="utf-8")
    rows: list[list[str]] = []
    start = text.find("```\n  # settlement,")
    assert start >= 0
    while start >= 0:
        end = text.index("```", start + 3)
        block = "\n".join(line.strip() for line in text[start + 3 : end].splitlines() if line.strip())
        rows += csv.reader(io.StringIO(block))
        start = text.find("```\n  # settlement,", end + 3)
    return rows


def test_the_readme_excerpt_has_the_real_columns_and_row_shapes() -> None:
    rows = excerpt()
    headers = [r for r in rows if r[0] == "kind"]
    assert headers and headers[0] == list(CSV_COLUMNS)
    for row in headers[1:]:  # a later day's header may elide columns with "..."
        assert row[0] == "kind" and row[-1] == CSV_COLUMNS[-1]
    kinds = set()
    for row in rows:
        if row[0] == "# settlement":
            assert len(row) == 6, row
        elif row[0] == "# total":
            assert row[1] in ("fare", "rider"), row
            assert len(row) == (4 + len(FARE_TOTAL_KEYS) if row[1] == "fare" else 6), row
        elif row[0] != "kind":
            kinds.add(row[0])
            assert row[0] in LINE_KINDS, row
            if "..." not in row:
                assert len(row) == len(CSV_COLUMNS), row
    assert {"journey", "credit", "reversal", "restatement"} <= kinds
