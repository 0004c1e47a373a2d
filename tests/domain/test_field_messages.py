"""Field messages come back in the caller's language, marshmallow's and our own alike."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import marshmallow
import pytest
from marshmallow import fields, validate

from bayaffairs.field_messages import MARSHMALLOW, TEMPLATES, translate, translate_fields

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"\{[^{}]*\}")


def shape(template: str) -> str:
    """A template with every placeholder the same, so "{min}" and an f-string's "{}" compare."""
    return PLACEHOLDER.sub("{}", template)


def marshmallow_messages() -> set[str]:
    """Every message marshmallow formats, with its own placeholders left in."""
    found: set[str] = set()
    for _, cls in inspect.getmembers(fields, inspect.isclass):
        if issubclass(cls, fields.Field):
            for base in cls.__mro__:
                found.update(getattr(base, "default_error_messages", {}).values())
    found.update(marshmallow.Schema._default_error_messages.values())
    for _, cls in inspect.getmembers(validate, inspect.isclass):
        if isinstance(getattr(cls, "default_message", None), str):
            found.add(cls.default_message)
    found.update(v for k, v in vars(validate.Length).items() if k.startswith("message_"))
    for low in (True, False):
        for high in (True, False):
            both = validate.Range(0, 1, min_inclusive=low, max_inclusive=high)
            found.update({both.message_min, both.message_max, both.message_all})
    # "{input!r}" is formatted like "{input}"; the quotes come from repr.
    return {m.replace("{input!r}", "{input}").replace("{{", "{").replace("}}", "}") for m in found}


def literal(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    return None


def messages_in_code() -> dict[str, str]:
    """Literal field messages: list items beside a field name (`{"field": ["..."]}` or
    `errors["field"] = ["..."]`) in modules that raise InvalidInput, invalid_passenger()'s text,
    and ValidationError's in the request schemas (handlers/). Config validation (ValidationError
    in the domain's settings schemas) speaks to whoever runs the service, in English."""
    found: dict[str, str] = {}
    for folder in ("bayaffairs", "handlers"):
        for path in (ROOT / folder).rglob("*.py"):
            source = path.read_text(encoding="utf-8")
            markers = ("InvalidInput", "invalid_passenger", "ValidationError")
            if not any(n in source for n in markers[: 3 if folder == "handlers" else 2]):
                continue
            for node in ast.walk(ast.parse(source)):
                texts: list[ast.expr] = []
                if isinstance(node, ast.Dict):
                    texts += [e for v in node.values if isinstance(v, ast.List) for e in v.elts]
                elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Subscript):
                    texts += node.value.elts if isinstance(node.value, ast.List) else []
                elif isinstance(node, ast.Call):
                    name = getattr(node.func, "id", getattr(node.func, "attr", None))
                    if name == "ValidationError" and node.args and folder == "handlers":
                        texts.append(node.args[0])
                    elif name == "invalid_passenger" and len(node.args) > 1:
                        texts.append(node.args[1])
                for text in texts:
                    value = literal(text)
                    if value:
                        found.setdefault(value, str(path.relative_to(ROOT)))
    return found


def test_every_marshmallow_message_has_a_translation() -> None:
    missing = {m for m in marshmallow_messages() if m not in MARSHMALLOW}
    assert not missing, f"add to MARSHMALLOW in bayaffairs/field_messages.py: {sorted(missing)}"


def test_every_field_message_in_the_code_has_a_translation() -> None:
    known = {shape(t) for t in TEMPLATES}
    missing = {m: where for m, where in messages_in_code().items() if shape(m) not in known}
    assert not missing, f"add to OURS in bayaffairs/field_messages.py: {missing}"


def test_the_code_scan_finds_messages() -> None:
    """Control: the scan above would notice a new message (it finds the ones we know of)."""
    found = messages_in_code()
    assert "not one of your documents" in found
    assert "not a station of {}" in found
    assert "give the QR payload or the reference" in found


@pytest.mark.parametrize("english", sorted(TEMPLATES))
def test_translations_keep_the_placeholders(english: str) -> None:
    text = TEMPLATES[english]
    assert text.en == english
    for translated in (text.zh_hant, text.zh_hans):
        assert translated and translated != english
        assert sorted(PLACEHOLDER.findall(translated)) == sorted(PLACEHOLDER.findall(english))


@pytest.mark.parametrize(
    ("message", "language", "expected"),
    [
        ("Missing data for required field.", "zh-Hant", "缺少必填欄位。"),
        ("Missing data for required field.", "zh-Hans", "缺少必填字段。"),
        ("Missing data for required field.", "en", "Missing data for required field."),
        (
            "Must be greater than or equal to 1 and less than or equal to 200.",
            "zh-Hans",
            "必须介于 1 至 200(含)。",
        ),
        ("Must be greater than or equal to 1.", "zh-Hant", "必須大於或等於 1。"),
        ("Must be one of: in, out.", "zh-Hant", "必須是以下之一:in, out。"),
        ("not a station of mtr", "zh-Hans", "不是 mtr 的车站"),
        ("something nobody wrote down", "zh-Hant", "something nobody wrote down"),
    ],
)
def test_translate(message: str, language: str, expected: str) -> None:
    assert translate(message, language) == expected


def test_nested_field_messages_are_translated_in_place() -> None:
    fields_ = {
        "passengers": {"0": {"document_id": ["Missing data for required field."]}},
        "x": ["Unknown field."],
    }
    assert translate_fields(fields_, "zh-Hant") == {
        "passengers": {"0": {"document_id": ["缺少必填欄位。"]}},
        "x": ["未知欄位。"],
    }
