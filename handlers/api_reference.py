"""docs/api.md: the API reference in Markdown, generated from the OpenAPI document, so a reader of
the repository has the paths, credentials, parameters and shapes without a running server.

    python -m bayaffairs.handlers.api_reference > docs/api.md      (or: make api-docs)

A test compares the committed file with what this writes, so the two never drift apart.
"""

from __future__ import annotations

import sys
from typing import Any

from bayaffairs.config import load_config
from bayaffairs.handlers.app import create_app
from bayaffairs.handlers.openapi import build_openapi

HEADER = """# API reference

Generated from the service's OpenAPI document (`GET /openapi.json`, browsable at `/docs`) by
`make api-docs`; a test keeps this file equal to it. Conventions for every endpoint:

- Errors have one shape: `{"error": {"code", "message", "details", "request_id"}}`. `code` is
  stable (clients switch on it); `message` is in the caller's language (`Accept-Language`: en,
  zh-Hant, zh-Hans); `details.fields` maps each bad input field to its messages.
- Money is `{"amount": integer minor units, "currency": ISO 4217}`. Times are RFC 3339 with their
  offset (a place's own zone where it has one).
- Credentials are bearer tokens; each endpoint names the kinds it takes (rider sessions, gate,
  carrier, operator, counter, display and admin credentials). Any other kind answers 403.
- `Idempotency-Key` (where listed): the same key and body answers the first answer again; the
  same key with another body is 422.
"""


def _ref_name(schema: Any) -> str:
    if isinstance(schema, dict):
        if "$ref" in schema:
            return str(schema["$ref"]).rsplit("/", 1)[-1]
        if "oneOf" in schema:
            return " or ".join(_ref_name(s) for s in schema["oneOf"])
        if schema.get("type") == "array":
            return f"list of {_ref_name(schema.get('items', {}))}"
        return str(schema.get("type", "object"))
    return str(schema)


def _type_of(prop: dict[str, Any]) -> str:
    if "$ref" in prop:
        return _ref_name(prop)
    if "allOf" in prop:
        return " & ".join(_ref_name(p) for p in prop["allOf"])
    kind = str(prop.get("type", "any"))
    if kind == "array":
        return f"list of {_type_of(prop.get('items', {}))}"
    if "format" in prop:
        kind = f"{kind} ({prop['format']})"
    if "enum" in prop:
        kind += ": " + ", ".join(f"`{v}`" for v in prop["enum"] if v is not None)
    return kind


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _operation_lines(method: str, path: str, op: dict[str, Any]) -> list[str]:
    lines = [f"### `{method.upper()} {path}`", "", _cell(op.get("summary", "")) + ".", ""]
    description = op.get("description", "")
    if description:
        lines += [description.strip(), ""]
    query = [p for p in op.get("parameters", []) if p.get("in") == "query"]
    if query:
        lines.append("Query:")
        for p in query:
            note = p.get("description", "") + (" (required)" if p.get("required") else "")
            lines.append(
                f"- `{p['name']}`: {_type_of(p.get('schema', {}))}" + (f"; {_cell(note)}" if note else "")
            )
        lines.append("")
    headers = [p["name"] for p in op.get("parameters", []) if p.get("in") == "header"]
    if "Idempotency-Key" in headers:
        lines += ["Takes `Idempotency-Key`.", ""]
    body = op.get("requestBody", {}).get("content", {})
    for media, content in body.items():
        lines += [f"Body ({media}): {_ref_name(content.get('schema', {}))}.", ""]
    answers = []
    for status, response in op.get("responses", {}).items():
        content = response.get("content", {})
        shapes = [_ref_name(c.get("schema", {})) for c in content.values()]
        answers.append(f"{status}" + (f" {shapes[0]}" if shapes else ""))
    lines += ["Answers: " + "; ".join(answers) + ".", ""]
    return lines


def _schema_lines(name: str, schema: dict[str, Any]) -> list[str]:
    lines = [f"### {name}", ""]
    properties = schema.get("properties", {})
    if not properties:
        return [*lines, _cell(schema.get("description", "(no fields)")), ""]
    required = set(schema.get("required", []))
    lines += ["| field | type | required | description |", "| --- | --- | --- | --- |"]
    for field, prop in properties.items():
        note = prop.get("description", "")
        if prop.get("nullable"):
            note = (note + " (may be null)").strip()
        lines.append(
            f"| `{field}` | {_cell(_type_of(prop))} | {'yes' if field in required else ''} | {_cell(note)} |"
        )
    return [*lines, ""]


def markdown(spec: dict[str, Any]) -> str:
    by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            by_tag.setdefault(op.get("tags", ["other"])[0], []).append((method, path, op))
    lines = [HEADER]
    lines += ["## Endpoints by area", ""]
    for tag in sorted(by_tag):
        lines += [f"- [{tag}](#{tag.lower().replace(' ', '-')})"]
    lines.append("")
    for tag in sorted(by_tag):
        lines += [f"## {tag}", ""]
        for method, path, op in sorted(by_tag[tag], key=lambda item: (item[1], item[0])):
            lines += _operation_lines(method, path, op)
    lines += ["## Shapes", ""]
    for name, schema in sorted(spec.get("components", {}).get("schemas", {}).items()):
        lines += _schema_lines(name, schema)
    return "\n".join(lines).rstrip() + "\n"


def generate() -> str:
    """The reference for the routes and schemas this checkout declares (no server started)."""
    spec = build_openapi(create_app(load_config(profile="test")), "http://localhost:8080")
    return markdown(spec)


if __name__ == "__main__":
    sys.stdout.write(generate())
