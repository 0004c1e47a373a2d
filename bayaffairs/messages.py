"""Human messages for stable error codes, in en, zh-Hant and zh-Hans.

A code missing here falls back to a generic text of its HTTP status, so adding a new error code
never breaks rendering; the contract test lists codes that still lack a translation.
"""

from __future__ import annotations

from typing import Any

from bayaffairs.i18n import Text

T = Text

MESSAGES: dict[str, Text] = {
    "bad_request": T("The request is not valid.", "請求無效。", "请求无效。"),
    "invalid_request": T(
        "Some fields are missing or not valid.", "部分欄位缺失或無效。", "部分字段缺失或无效。"
    ),
    "malformed_json": T(
        "The request body is not valid JSON.", "請求內容不是有效的 JSON。", "请求内容不是有效的 JSON。"
    ),
    "unauthenticated": T(
        "Sign in first: the credentials are missing or not valid.",
        "請先登入:憑證缺失或無效。",
        "请先登录:凭证缺失或无效。",
    ),
    "token_expired": T("The credentials have expired.", "憑證已過期。", "凭证已过期。"),
    "token_revoked": T("The credentials have been revoked.", "憑證已被撤銷。", "凭证已被撤销。"),
    "forbidden": T("These credentials may not do that.", "此憑證無權執行此操作。", "此凭证无权执行此操作。"),
    "wrong_credential_kind": T(
        "This endpoint needs another kind of credentials.",
        "此端點需要另一種憑證。",
        "此端点需要另一种凭证。",
    ),
    "out_of_scope": T(
        "These credentials are for another {scope_kind}.",
        "此憑證屬於另一個{scope_kind}。",
        "此凭证属于另一个{scope_kind}。",
    ),
    "not_found": T("Nothing was found here.", "找不到相關資源。", "找不到相关资源。"),
    "route_not_found": T("There is no such endpoint.", "沒有此端點。", "没有此端点。"),
    "method_not_allowed": T(
        "This endpoint does not accept that method.",
        "此端點不接受該請求方法。",
        "此端点不接受该请求方法。",
    ),
    "conflict": T(
        "The request conflicts with the current state.", "請求與目前狀態衝突。", "请求与当前状态冲突。"
    ),
    "gone": T("This has expired.", "已過期。", "已过期。"),
    "payload_too_large": T(
        "The request body is larger than {limit} bytes.",
        "請求內容超過 {limit} 位元組。",
        "请求内容超过 {limit} 字节。",
    ),
    "idempotency_key_in_use": T(
        "A request with this Idempotency-Key is still being processed; retry shortly.",
        "使用此 Idempotency-Key 的請求仍在處理中,請稍後重試。",
        "使用此 Idempotency-Key 的请求仍在处理中,请稍后重试。",
    ),
    "idempotency_key_reused": T(
        "This Idempotency-Key was used with a different request body.",
        "此 Idempotency-Key 已用於另一個請求內容。",
        "此 Idempotency-Key 已用于另一个请求内容。",
    ),
    "invalid_idempotency_key": T(
        "The Idempotency-Key must be 1 to 255 visible ASCII characters.",
        "Idempotency-Key 必須為 1 至 255 個可見 ASCII 字元。",
        "Idempotency-Key 必须为 1 至 255 个可见 ASCII 字符。",
    ),
    "rate_limited": T(
        "Too many requests; retry after {retry_after} seconds.",
        "請求過多,請於 {retry_after} 秒後重試。",
        "请求过多,请于 {retry_after} 秒后重试。",
    ),
    "service_unavailable": T(
        "A backing service is unavailable; nothing was changed. Retry shortly.",
        "後端服務暫時無法使用,未作任何更改,請稍後重試。",
        "后端服务暂时不可用,未作任何更改,请稍后重试。",
    ),
    "partner_error": T(
        "A partner system did not answer properly; nothing was changed.",
        "合作方系統未能正常回應,未作任何更改。",
        "合作方系统未能正常响应,未作任何更改。",
    ),
    "internal_error": T(
        "Something went wrong on our side. It has been logged.",
        "系統發生錯誤,已記錄。",
        "系统发生错误,已记录。",
    ),
    "unknown_provider": T(
        "This sign-in provider is not available.", "此登入方式不可用。", "此登录方式不可用。"
    ),
    "login_failed": T(
        "The sign-in provider did not accept the code.",
        "登入服務未接受此授權碼。",
        "登录服务未接受此授权码。",
    ),
    "document_not_found": T("No such document on file.", "找不到此證件。", "找不到此证件。"),
    "consent_not_found": T("No such consent.", "找不到此同意記錄。", "找不到此同意记录。"),
    "credential_not_found": T("No such credential.", "找不到此憑證。", "找不到此凭证。"),
    "user_not_found": T("No such user.", "找不到此用戶。", "找不到此用户。"),
    "fx_rate_unavailable": T(
        "No exchange rate is available for this currency pair right now.",
        "目前沒有此貨幣組合的匯率。",
        "目前没有此货币组合的汇率。",
    ),
    "no_signing_key": T(
        "No signing key exists yet for {issuer}; run `bayaffairs keys rotate {issuer}`.",
        "{issuer} 尚未有簽署金鑰。",
        "{issuer} 尚未有签名密钥。",
    ),
    "no_such_key": T("No such key.", "找不到此金鑰。", "找不到此密钥。"),
    "wallet_required": T(
        "Choose a wallet first (PUT /v1/me/wallet): rides are charged to it.",
        "請先設定錢包:乘車費用會從錢包扣除。",
        "请先设置钱包:乘车费用会从钱包扣除。",
    ),
    "account_denied": T(
        "Ride codes are blocked for this account; contact customer service.",
        "此帳戶的乘車碼已被停用,請聯絡客戶服務。",
        "此账户的乘车码已被停用,请联系客户服务。",
    ),
    "unfinished_journey": T(
        "A journey is not finished: tap out or repair it first.",
        "有未完成的行程:請先出閘或補登。",
        "有未完成的行程:请先出闸或补登。",
    ),
    "code_not_found": T(
        "No such ride code, or it has expired.", "找不到此乘車碼,或已過期。", "找不到此乘车码,或已过期。"
    ),
    "code_expired": T(
        "This ride code has expired; get a new one.",
        "此乘車碼已過期,請重新取得。",
        "此乘车码已过期,请重新获取。",
    ),
    "journey_already_charged": T(
        "This journey has been charged already and can no longer be repaired.",
        "此行程已扣款,不能再補登。",
        "此行程已扣款,不能再补登。",
    ),
    "journey_not_found": T("No such journey.", "找不到此行程。", "找不到此行程。"),
    "journey_not_unfinished": T(
        "This journey is {status}; only an open or unfinished journey can be repaired.",
        "此行程狀態為 {status},只有未完成的行程可以補登。",
        "此行程状态为 {status},只有未完成的行程可以补登。",
    ),
    "operator_not_found": T("No such operator.", "找不到此營運商。", "找不到此运营商。"),
    "operator_unavailable": T(
        "That operator is not available now.", "該營運商暫時無法使用。", "该运营商暂时无法使用。"
    ),
    "document_exists": T("This document is already on file.", "此證件已存檔。", "此证件已存档。"),
    "document_expired": T("This document has expired.", "此證件已過期。", "此证件已过期。"),
    "unsupported_currency": T(
        "This payment provider does not take {currency}.",
        "此支付方式不支援 {currency}。",
        "此支付方式不支持 {currency}。",
    ),
}

_BY_STATUS = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    410: "gone",
    413: "payload_too_large",
    429: "rate_limited",
    502: "partner_error",
    503: "service_unavailable",
}


def message_for(code: str, language: str, status: int = 400, /, **params: Any) -> str:
    """Positional-only arguments: an error's own params may be called anything (even `status`)."""
    text = MESSAGES.get(code) or MESSAGES.get(_BY_STATUS.get(status, "internal_error"))
    assert text is not None
    template = text.get(language)
    try:
        return template.format(**params)
    except (KeyError, IndexError, ValueError):
        return template
