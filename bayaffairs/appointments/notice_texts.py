"""What riders are told about their appointments, in en, zh-Hant and zh-Hans: every notice's
text in one place.

A notice is written with all three (the outbox keeps them) and its `language`, the rider's
(`Catalogue.notice_language`); the notifier sends that one. A parameter given as `Text` (a
service's, centre's or agency's name) is put in each language's text in that language; any other
(the time, the reference, a reason as someone typed it) as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bayaffairs.i18n import LANGUAGES, Text

T = Text


@dataclass(frozen=True)
class NoticeText:
    subject: Text
    body: Text


NOTICES: Mapping[str, NoticeText] = {
    # The agency's lead time before the appointment.
    "reminder": NoticeText(
        T("Appointment reminder: {service}", "預約提醒:{service}", "预约提醒:{service}"),
        T(
            "{time} at {centre}, reference {reference}.",
            "{time} 於{centre},預約編號 {reference}。",
            "{time} 于{centre},预约编号 {reference}。",
        ),
    ),
    # A desk or the centre closed over the appointment, which still stands: a reschedule offer.
    "desk_closed": NoticeText(
        T("Please choose another time: {service}", "請另選時間:{service}", "请另选时间:{service}"),
        T(
            "{centre} is closed at {time} ({reason}). Your appointment {reference} still stands; "
            "reschedule it in the app to another time, free of charge.",
            "{centre} 於 {time} 暫停服務({reason})。你的預約 {reference} 仍然有效;請在應用程式內免費改期。",
            "{centre} 于 {time} 暂停服务({reason})。你的预约 {reference} 仍然有效;请在应用内免费改期。",
        ),
    ),
    # A remote agency refused the pushed booking: it is cancelled with the agency's reason.
    "agency_refused": NoticeText(
        T("Appointment not accepted: {service}", "預約未獲接納:{service}", "预约未获接纳:{service}"),
        T(
            "{agency} did not accept your appointment {reference} on {time}: {reason}. "
            "It is cancelled; please book again.",
            "{agency} 未接納你 {time} 的預約 {reference}:{reason}。預約已取消,請重新預約。",
            "{agency} 未接纳你 {time} 的预约 {reference}:{reason}。预约已取消,请重新预约。",
        ),
    ),
}


def render(kind: str, **params: str | Text) -> NoticeText:
    """The notice `kind`'s subject and body in every language, with `params` filled in."""
    notice = NOTICES[kind]
    return NoticeText(_fill(notice.subject, params), _fill(notice.body, params))


def _fill(template: Text, params: Mapping[str, str | Text]) -> Text:
    def one(language: str) -> str:
        values = {k: v.get(language) if isinstance(v, Text) else v for k, v in params.items()}
        return template.get(language).format_map(values)

    en, zh_hant, zh_hans = (one(language) for language in LANGUAGES)
    return Text(en, zh_hant, zh_hans)
