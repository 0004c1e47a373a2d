"""docs/api.md is the reference a reader of the repository has without a server: it must say what
the running service's OpenAPI document says."""

from __future__ import annotations

from pathlib import Path

from bayaffairs.handlers.api_reference import generate

ROOT = Path(__file__).resolve().parents[2]


def test_docs_api_md_is_generated_from_the_openapi_document() -> None:
    committed = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    assert committed == generate(), "docs/api.md is stale: run `make api-docs` and commit it"


def test_the_reference_lists_every_operation_with_its_credentials() -> None:
    text = generate()
    assert "### `POST /v1/gate/scans`" in text
    assert "Credentials: gate." in text
    assert "### ErrorBody" in text or "### Error" in text
