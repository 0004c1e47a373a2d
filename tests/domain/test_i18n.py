"""Choosing among en, zh-Hant and zh-Hans."""

from __future__ import annotations

import pytest

from bayaffairs.i18n import Text, negotiate, stated_language
from bayaffairs.messages import MESSAGES, message_for


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, "en"),
        ("", "en"),
        ("fr-FR", "en"),
        ("zh-HK", "zh-Hant"),
        ("zh-TW,zh;q=0.8", "zh-Hant"),
        ("zh-MO", "zh-Hant"),
        ("zh-CN", "zh-Hans"),
        ("zh", "zh-Hans"),
        ("zh-Hant-HK", "zh-Hant"),
        ("yue", "zh-Hant"),
        ("fr;q=1, zh-Hans;q=0.5, en;q=0.9", "en"),
        ("en;q=0.2, zh-CN;q=0.8", "zh-Hans"),
        ("en;q=nonsense, zh-HK", "zh-Hant"),
        ("*", "en"),
    ],
)
def test_negotiate(header: str | None, language: str) -> None:
    assert negotiate(header) == language


def test_text_falls_back_to_the_other_script_then_english() -> None:
    assert Text("Bus", zh_hant="巴士").get("zh-Hans") == "巴士"
    assert Text("Bus").get("zh-Hant") == "Bus"


def test_every_message_has_all_three_languages() -> None:
    missing = [code for code, text in MESSAGES.items() if not (text.zh_hant and text.zh_hans)]
    assert missing == []


def test_an_unknown_code_falls_back_to_its_status_text() -> None:
    assert message_for("no_such_code", "en", 404) == MESSAGES["not_found"].en


def test_an_errors_params_may_use_any_name() -> None:
    assert "open" in message_for("journey_not_unfinished", "en", 409, status="open")


@pytest.mark.parametrize(
    ("count", "english"),
    [
        (1, "You already hold 1 active appointment for this service."),
        (2, "You already hold 2 active appointments for this service."),
    ],
)
def test_counted_messages_agree_with_their_count(count: int, english: str) -> None:
    assert message_for("rider_limit_reached", "en", 409, limit=count) == english
    chinese = message_for("rider_limit_reached", "zh-Hant", 409, limit=count)
    assert chinese == f"你已持有此服務的 {count} 個有效預約。"


def test_every_singular_form_belongs_to_a_message_with_that_count() -> None:
    from bayaffairs.messages import SINGULAR

    for code, (param, text) in SINGULAR.items():
        assert "{" + param + "}" in MESSAGES[code].en and "{" + param + "}" in text.en


@pytest.mark.parametrize(
    ("code", "params", "one"),
    [
        ("too_many_holds", {"limit": 1}, "You already have 1 unpaid booking; pay for or cancel it first."),
        ("quota_exceeded", {"limit": 1, "window": "day"}, "1 appointment with this department for that day"),
        ("reauthentication_required", {"minutes": 1}, "a sign-in from the last 1 minute."),
    ],
)
def test_a_count_of_one_reads_in_the_singular(code: str, params: dict[str, object], one: str) -> None:
    assert one in message_for(code, "en", 409, **params)
    many = {k: 2 if v == 1 else v for k, v in params.items()}
    assert one.replace("1", "2") not in message_for(code, "en", 409, **many)  # the plural stays


@pytest.mark.parametrize(
    ("header", "stated"),
    [
        (None, None),
        ("", None),
        ("*", None),  # any language: none stated, a kept one holds
        ("fr-FR, pt-MO;q=0.8", None),
        ("fr, *;q=0.5, zh-HK;q=0.1", "zh-Hant"),  # `*` names nothing; zh-HK is named
        ("zh-HK", "zh-Hant"),
        ("zh-CN, en;q=0.5", "zh-Hans"),
        ("en-GB", "en"),
        ("zh-HK;q=0", None),
        ("zh-HK;q=nan", None),
        (",,;;q=", None),
    ],
)
def test_stated_language_is_one_of_ours_the_header_names_or_none(
    header: str | None, stated: str | None
) -> None:
    assert stated_language(header) == stated
