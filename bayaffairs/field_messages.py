"""Field messages (`details.fields` of a 400) in the caller's language.

Validation speaks English where it is raised: marshmallow's own messages and the short texts the
domain puts beside a field name. They are translated once, where the error is rendered, by
matching each message against the English templates below; a `{name}` in a template matches any
text, which is carried into the translation unchanged (ids, numbers, lists of choices). A message
no template matches stays English. tests/domain/test_field_messages.py checks that every message
marshmallow can produce and every literal message in the code has a template here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from bayaffairs.i18n import Text

T = Text

# marshmallow's messages (fields, schemas, validators), as it formats them.
MARSHMALLOW: dict[str, Text] = {
    "Missing data for required field.": T(
        "Missing data for required field.", "缺少必填欄位。", "缺少必填字段。"
    ),
    "Field may not be null.": T("Field may not be null.", "此欄位不可為空值。", "此字段不可为空值。"),
    "Unknown field.": T("Unknown field.", "未知欄位。", "未知字段。"),
    "Invalid input type.": T("Invalid input type.", "輸入類型無效。", "输入类型无效。"),
    "Invalid type.": T("Invalid type.", "類型無效。", "类型无效。"),
    "Invalid value.": T("Invalid value.", "數值無效。", "数值无效。"),
    "Invalid input.": T("Invalid input.", "輸入無效。", "输入无效。"),
    "Not a valid string.": T("Not a valid string.", "不是有效的字串。", "不是有效的字符串。"),
    "Not a valid utf-8 string.": T(
        "Not a valid utf-8 string.", "不是有效的 UTF-8 字串。", "不是有效的 UTF-8 字符串。"
    ),
    "Not a valid integer.": T("Not a valid integer.", "不是有效的整數。", "不是有效的整数。"),
    "Not a valid number.": T("Not a valid number.", "不是有效的數字。", "不是有效的数字。"),
    "Number too large.": T("Number too large.", "數字太大。", "数字太大。"),
    "Special numeric values (nan or infinity) are not permitted.": T(
        "Special numeric values (nan or infinity) are not permitted.",
        "不接受特殊數值(nan 或 infinity)。",
        "不接受特殊数值(nan 或 infinity)。",
    ),
    "Not a valid boolean.": T("Not a valid boolean.", "不是有效的布林值。", "不是有效的布尔值。"),
    "Not a valid list.": T("Not a valid list.", "不是有效的列表。", "不是有效的列表。"),
    "Not a valid tuple.": T("Not a valid tuple.", "不是有效的元組。", "不是有效的元组。"),
    "Not a valid mapping type.": T("Not a valid mapping type.", "不是有效的物件。", "不是有效的对象。"),
    "Not a valid date.": T("Not a valid date.", "不是有效的日期。", "不是有效的日期。"),
    "Not a valid {obj_type}.": T(
        "Not a valid {obj_type}.", "不是有效的 {obj_type}。", "不是有效的 {obj_type}。"
    ),
    "Not a valid {awareness} {obj_type}.": T(
        "Not a valid {awareness} {obj_type}.",
        "不是有效的 {awareness} {obj_type}。",
        "不是有效的 {awareness} {obj_type}。",
    ),
    '"{input}" cannot be formatted as a date.': T(
        '"{input}" cannot be formatted as a date.',
        "「{input}」無法轉為日期。",
        "“{input}”无法转为日期。",
    ),
    '"{input}" cannot be formatted as a {obj_type}.': T(
        '"{input}" cannot be formatted as a {obj_type}.',
        "「{input}」無法轉為 {obj_type}。",
        "“{input}”无法转为 {obj_type}。",
    ),
    "{input} cannot be formatted as a timedelta.": T(
        "{input} cannot be formatted as a timedelta.",
        "{input} 無法轉為時間長度。",
        "{input} 无法转为时间长度。",
    ),
    "Not a valid period of time.": T(
        "Not a valid period of time.", "不是有效的時間長度。", "不是有效的时间长度。"
    ),
    "Not a valid email address.": T(
        "Not a valid email address.", "不是有效的電郵地址。", "不是有效的电子邮件地址。"
    ),
    "Not a valid URL.": T("Not a valid URL.", "不是有效的網址。", "不是有效的网址。"),
    "Not a valid UUID.": T("Not a valid UUID.", "不是有效的 UUID。", "不是有效的 UUID。"),
    "Not a valid IP address.": T("Not a valid IP address.", "不是有效的 IP 位址。", "不是有效的 IP 地址。"),
    "Not a valid IPv4 address.": T(
        "Not a valid IPv4 address.", "不是有效的 IPv4 位址。", "不是有效的 IPv4 地址。"
    ),
    "Not a valid IPv6 address.": T(
        "Not a valid IPv6 address.", "不是有效的 IPv6 位址。", "不是有效的 IPv6 地址。"
    ),
    "Not a valid IP interface.": T(
        "Not a valid IP interface.", "不是有效的 IP 介面。", "不是有效的 IP 接口。"
    ),
    "Not a valid IPv4 interface.": T(
        "Not a valid IPv4 interface.", "不是有效的 IPv4 介面。", "不是有效的 IPv4 接口。"
    ),
    "Not a valid IPv6 interface.": T(
        "Not a valid IPv6 interface.", "不是有效的 IPv6 介面。", "不是有效的 IPv6 接口。"
    ),
    "Must be one of: {choices}.": T(
        "Must be one of: {choices}.", "必須是以下之一:{choices}。", "必须是以下之一:{choices}。"
    ),
    "Must be equal to {other}.": T("Must be equal to {other}.", "必須等於 {other}。", "必须等于 {other}。"),
    "One or more of the choices you made was not in: {choices}.": T(
        "One or more of the choices you made was not in: {choices}.",
        "部分選擇不在以下範圍內:{choices}。",
        "部分选择不在以下范围内:{choices}。",
    ),
    "One or more of the choices you made was in: {values}.": T(
        "One or more of the choices you made was in: {values}.",
        "部分選擇屬於不允許的值:{values}。",
        "部分选择属于不允许的值:{values}。",
    ),
    "String does not match expected pattern.": T(
        "String does not match expected pattern.", "字串格式不符。", "字符串格式不符。"
    ),
    "Shorter than minimum length {min}.": T(
        "Shorter than minimum length {min}.", "長度不得少於 {min}。", "长度不得少于 {min}。"
    ),
    "Longer than maximum length {max}.": T(
        "Longer than maximum length {max}.", "長度不得超過 {max}。", "长度不得超过 {max}。"
    ),
    "Length must be between {min} and {max}.": T(
        "Length must be between {min} and {max}.",
        "長度須介於 {min} 至 {max}。",
        "长度须介于 {min} 至 {max}。",
    ),
    "Length must be {equal}.": T("Length must be {equal}.", "長度必須為 {equal}。", "长度必须为 {equal}。"),
    "Must be greater than or equal to {min}.": T(
        "Must be greater than or equal to {min}.", "必須大於或等於 {min}。", "必须大于或等于 {min}。"
    ),
    "Must be greater than {min}.": T("Must be greater than {min}.", "必須大於 {min}。", "必须大于 {min}。"),
    "Must be less than or equal to {max}.": T(
        "Must be less than or equal to {max}.", "必須小於或等於 {max}。", "必须小于或等于 {max}。"
    ),
    "Must be less than {max}.": T("Must be less than {max}.", "必須小於 {max}。", "必须小于 {max}。"),
    "Must be greater than or equal to {min} and less than or equal to {max}.": T(
        "Must be greater than or equal to {min} and less than or equal to {max}.",
        "必須介於 {min} 至 {max}(含)。",
        "必须介于 {min} 至 {max}(含)。",
    ),
    "Must be greater than {min} and less than {max}.": T(
        "Must be greater than {min} and less than {max}.",
        "必須大於 {min} 且小於 {max}。",
        "必须大于 {min} 且小于 {max}。",
    ),
    "Must be greater than or equal to {min} and less than {max}.": T(
        "Must be greater than or equal to {min} and less than {max}.",
        "必須大於或等於 {min} 且小於 {max}。",
        "必须大于或等于 {min} 且小于 {max}。",
    ),
    "Must be greater than {min} and less than or equal to {max}.": T(
        "Must be greater than {min} and less than or equal to {max}.",
        "必須大於 {min} 且小於或等於 {max}。",
        "必须大于 {min} 且小于或等于 {max}。",
    ),
}

# The project's own field messages (the domain's InvalidInput, the request schemas).
OURS: dict[str, Text] = {
    "this service limits appointments per person: give the applicant's document": T(
        "this service limits appointments per person: give the applicant's document",
        "此服務按人限制預約數目:請提供申請人的證件",
        "此服务按人限制预约数目:请提供申请人的证件",
    ),
    "give document_type and document_number together": T(
        "give document_type and document_number together",
        "document_type 與 document_number 須一併提供",
        "document_type 与 document_number 须一并提供",
    ),
    "Must be in the years {first} to {last}.": T(
        "Must be in the years {first} to {last}.",
        "必須在 {first} 至 {last} 年之間。",
        "必须在 {first} 至 {last} 年之间。",
    ),
    "not a cursor of this list": T("not a cursor of this list", "不是此清單的游標", "不是此列表的游标"),
    "given more than once": T("given more than once", "重複提供", "重复提供"),
    "must not contain the NUL character": T(
        "must not contain the NUL character", "不可包含 NUL 字元", "不可包含 NUL 字符"
    ),
    "the body must be a JSON object": T(
        "the body must be a JSON object", "請求內容必須是 JSON 物件", "请求内容必须是 JSON 对象"
    ),
    "1 to 255 visible ASCII characters": T(
        "1 to 255 visible ASCII characters", "1 至 255 個可見 ASCII 字元", "1 至 255 个可见 ASCII 字符"
    ),
    "a P-256 public key, X9.62 point in base64": T(
        "a P-256 public key, X9.62 point in base64",
        "須為 P-256 公鑰(X9.62 點,base64)",
        "须为 P-256 公钥(X9.62 点,base64)",
    ),
    "a gate id (1 to 40 of A-Z a-z 0-9 . _ -) is needed": T(
        "a gate id (1 to 40 of A-Z a-z 0-9 . _ -) is needed",
        "須有閘機編號(1 至 40 個 A-Z a-z 0-9 . _ - 字元)",
        "须有闸机编号(1 至 40 个 A-Z a-z 0-9 . _ - 字符)",
    ),
    "from 1 to {most} riders": T("from 1 to {most} riders", "1 至 {most} 位乘客", "1 至 {most} 位乘客"),
    "a {type} is issued by {issuer}": T(
        "a {type} is issued by {issuer}", "{type} 由 {issuer} 簽發", "{type} 由 {issuer} 签发"
    ),
    'admin credentials take the scope "{scope}"': T(
        'admin credentials take the scope "{scope}"',
        "管理員憑證的範圍必須是「{scope}」",
        "管理员凭证的范围必须是“{scope}”",
    ),
    "at least one passenger": T("at least one passenger", "至少需要一位乘客", "至少需要一位乘客"),
    "at most {days} days at a time": T(
        "at most {days} days at a time", "每次最多 {days} 天", "每次最多 {days} 天"
    ),
    "at most {count} passengers per booking": T(
        "at most {count} passengers per booking", "每張訂單最多 {count} 位乘客", "每张订单最多 {count} 位乘客"
    ),
    "bookable from {first} to {last}": T(
        "bookable from {first} to {last}", "可預約日期為 {first} 至 {last}", "可预约日期为 {first} 至 {last}"
    ),
    "give date alone, or from with to or days": T(
        "give date alone, or from with to or days",
        "只提供 date,或提供 from 加上 to 或 days",
        "只提供 date,或提供 from 加上 to 或 days",
    ),
    "give date, or from with to or days": T(
        "give date, or from with to or days",
        "請提供 date,或 from 加上 to 或 days",
        "请提供 date,或 from 加上 to 或 days",
    ),
    "give the QR payload or the reference": T(
        "give the QR payload or the reference", "請提供二維碼內容或預約編號", "请提供二维码内容或预约编号"
    ),
    "give to or days, not both": T(
        "give to or days, not both", "to 與 days 只可提供其一", "to 与 days 只可提供其一"
    ),
    "must be one of {choices}": T(
        "must be one of {choices}", "必須是以下之一:{choices}", "必须是以下之一:{choices}"
    ),
    "one of {choices}": T("one of {choices}", "須為以下之一:{choices}", "须为以下之一:{choices}"),
    "must not be before from": T("must not be before from", "不可早於 from", "不可早于 from"),
    "must not be in the future": T("must not be in the future", "不可是未來的日期", "不可是未来的日期"),
    "the exit is the entry station": T(
        "the exit is the entry station", "出站站與進站站相同", "出站站与进站站相同"
    ),
    "not a station of {operator}": T(
        "not a station of {operator}", "不是 {operator} 的車站", "不是 {operator} 的车站"
    ),
    "{station} is not a station or route of {operator}": T(
        "{station} is not a station or route of {operator}",
        "{station} 不是 {operator} 的車站或路線",
        "{station} 不是 {operator} 的车站或线路",
    ),
    "a flight number such as CX251": T(
        "a flight number such as CX251", "航班編號,例如 CX251", "航班编号,例如 CX251"
    ),
    "not one of your documents": T("not one of your documents", "不是你的證件", "不是你的证件"),
    "only exit_entry_permit visit endorsements and passport visas (V), elsewhere": T(
        "only exit_entry_permit visit endorsements and passport visas (V), elsewhere",
        "只接受往來港澳通行證(exit_entry_permit)的簽注及護照的簽證(V),且須為前往其他地區",
        "只接受往来港澳通行证(exit_entry_permit)的签注及护照的签证(V),且须为前往其他地区",
    ),
    "not stations of {operator}: {stations}": T(
        "not stations of {operator}: {stations}",
        "不是 {operator} 的車站:{stations}",
        "不是 {operator} 的车站:{stations}",
    ),
    "only gate credentials are bound to a gate": T(
        "only gate credentials are bound to a gate", "只有閘機憑證可綁定閘機", "只有闸机凭证可绑定闸机"
    ),
    "must be at least 1 day": T("must be at least 1 day", "最少須為 1 日", "最少须为 1 天"),
    "at most {limit} days for a {kind} credential ([auth.token_ttl_days])": T(
        "at most {limit} days for a {kind} credential ([auth.token_ttl_days])",
        "{kind} 憑證最長 {limit} 日([auth.token_ttl_days])",
        "{kind} 凭证最长 {limit} 天([auth.token_ttl_days])",
    ),
    "outside the centre's opening hours": T(
        "outside the centre's opening hours", "不在中心的辦公時間內", "不在中心的办公时间内"
    ),
    "slots start every {minutes} minutes from opening": T(
        "slots start every {minutes} minutes from opening",
        "時段由開門起每 {minutes} 分鐘開始",
        "时段由开门起每 {minutes} 分钟开始",
    ),
    "that is the slot already booked": T(
        "that is the slot already booked", "這是已預約的時段", "这是已预约的时段"
    ),
    "the centre is closed that day": T("the centre is closed that day", "中心當日休息", "中心当日休息"),
    "the document has expired": T("the document has expired", "證件已過期", "证件已过期"),
    "the same passenger as passengers.{index}": T(
        "the same passenger as passengers.{index}",
        "與 passengers.{index} 是同一位乘客",
        "与 passengers.{index} 是同一位乘客",
    ),
    "this centre does not offer the service": T(
        "this centre does not offer the service", "此中心不提供該服務", "此中心不提供该服务"
    ),
    "this departure has left": T("this departure has left", "此班次已開出", "此班次已开出"),
    "this payment provider is not enabled; GET /v1/auth/providers lists those that are": T(
        "this payment provider is not enabled; GET /v1/auth/providers lists those that are",
        "此付款服務未啟用;已啟用的見 GET /v1/auth/providers",
        "此支付服务未启用;已启用的见 GET /v1/auth/providers",
    ),
    "this sign-in provider is not enabled; GET /v1/auth/providers lists those that are": T(
        "this sign-in provider is not enabled; GET /v1/auth/providers lists those that are",
        "此登入方式未啟用;已啟用的見 GET /v1/auth/providers",
        "此登录方式未启用;已启用的见 GET /v1/auth/providers",
    ),
    "this service accepts {documents}": T(
        "this service accepts {documents}", "此服務接受:{documents}", "此服务接受:{documents}"
    ),
    "unknown city {city}": T("unknown city {city}", "未知城市 {city}", "未知城市 {city}"),
    "unknown issuer; configured: {issuers}": T(
        "unknown issuer; configured: {issuers}", "未知簽發者;已設定:{issuers}", "未知签发者;已配置:{issuers}"
    ),
    "unknown operator": T("unknown operator", "未知營運者", "未知运营商"),
    "unknown {kind} scope {scope}; known: {known}": T(
        "unknown {kind} scope {scope}; known: {known}",
        "未知的 {kind} 範圍 {scope};已知:{known}",
        "未知的 {kind} 范围 {scope};已知:{known}",
    ),
    "{provider} takes {currencies}": T(
        "{provider} takes {currencies}", "{provider} 接受:{currencies}", "{provider} 接受:{currencies}"
    ),
    "a self-service kiosk: walk up in its opening hours, no appointment": T(
        "a self-service kiosk: walk up in its opening hours, no appointment",
        "自助服務機:開放時間內直接前往,毋須預約",
        "自助服务机:开放时间内直接前往,无须预约",
    ),
    "must be after start": T("must be after start", "必須晚於開始時間", "必须晚于开始时间"),
    "a block lasts at most 31 days": T(
        "a block lasts at most 31 days", "暫停時段最長 31 日", "暂停时段最长 31 日"
    ),
    "the time has passed": T("the time has passed", "該時間已過", "该时间已过"),
    "not a page token this service gave": T(
        "not a page token this service gave", "不是本服務發出的分頁標記", "不是本服务发出的分页标记"
    ),
}

TEMPLATES: dict[str, Text] = {**MARSHMALLOW, **OURS}
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _pattern(template: str) -> re.Pattern[str]:
    parts = _PLACEHOLDER.split(template)  # text, name, text, name, ..., text
    regex = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)" for i, part in enumerate(parts))
    return re.compile(f"^{regex}$", re.DOTALL)


_EXACT = {english: text for english, text in TEMPLATES.items() if "{" not in english}
# Most literal text first, so "Must be greater than {min}." never swallows "... and less than {max}."
_PATTERNS = [
    (_pattern(english), text)
    for english, text in sorted(TEMPLATES.items(), key=lambda item: -len(_PLACEHOLDER.sub("", item[0])))
    if "{" in english
]


@lru_cache(maxsize=2048)
def translate(message: str, language: str) -> str:
    """One field message in `language`; English (or an unknown message) comes back as it is."""
    if language == "en":
        return message
    text = _EXACT.get(message)
    if text is not None:
        return text.get(language)
    for pattern, text in _PATTERNS:
        match = pattern.match(message)
        if match:
            return text.get(language).format(**match.groupdict())
    return message


def translate_fields(fields: Any, language: str) -> Any:
    """`details.fields` (field -> messages, nested for lists and objects) in `language`."""
    if language == "en":
        return fields
    if isinstance(fields, str):
        return translate(fields, language)
    if isinstance(fields, Mapping):
        return {key: translate_fields(value, language) for key, value in fields.items()}
    if isinstance(fields, list):
        return [translate_fields(item, language) for item in fields]
    return fields
