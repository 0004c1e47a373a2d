"""The README and docs/ stand alone: a clone of this repository has everything they point to."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "bench" / "README.md"]
# A repository path in backquotes or a Markdown link: docs/x.md, config/app.toml, integrations/...
OUTPUTS = ("bench/results", "config/local.toml")  # written by a run or by an operator, not committed
PATH = re.compile(r"(?:`|\]\()((?:\.\./)?(?:docs|config|bench|scripts|integrations|shared)/[\w./-]+?)[`)]")


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_documents_point_only_to_files_in_this_repository(document: Path) -> None:
    text = document.read_text(encoding="utf-8")
    assert "shared/" not in text, f"{document.name} points outside the repository"
    missing = [
        path
        for path in PATH.findall(text)
        if "*" not in path
        and "<" not in path
        and not path.startswith(OUTPUTS)
        and not (ROOT / path.rstrip(".")).exists()
    ]
    assert missing == [], f"{document.name} names files this repository does not have"
