"""Every notice to riders has its text in all three languages, each filling the same
parameters, and names from config come in the notice's own script."""

from __future__ import annotations

import string

import pytest

from bayaffairs.appointments.notice_texts import NOTICES, render
from bayaffairs.i18n import LANGUAGES, Text


def _parameters(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("kind", sorted(NOTICES))
def test_a_notice_has_every_language_with_the_same_parameters(kind: str) -> None:
    notice = NOTICES[kind]
    for text in (notice.subject, notice.body):
        assert text.zh_hant and text.zh_hans, kind
        assert _parameters(text.zh_hant) == _parameters(text.en) == _parameters(text.zh_hans), kind


def test_names_are_filled_in_each_languages_script_and_other_values_as_they_are() -> None:
    text = render(
        "agency_refused",
        service=Text("Renewal", "續期", "续期"),
        agency=Text("Macao Agency", "澳門機構", "澳门机构"),
        time="2099-12-08 14:00",  # any text: never read as a date
        reference="HQ-{1}",  # braces in a value are not a template
        reason="duplicate {applicant}",
    )
    assert text.subject.get("zh-Hant") == "預約未獲接納:續期"
    assert text.subject.get("zh-Hans") == "预约未获接纳:续期"
    assert text.body.get("en").startswith("Macao Agency did not accept your appointment HQ-{1} on 2099-12-08")
    assert "duplicate {applicant}" in text.body.get("zh-Hans")
    assert [text.body.get(language) for language in LANGUAGES] == [
        text.body.en,
        text.body.zh_hant,
        text.body.zh_hans,
    ]
