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
    "reauthentication_required": T(
        "Sign in again first: this needs a sign-in from the last {minutes} minutes.",
        "請先重新登入:此操作需要最近 {minutes} 分鐘內的登入。",
        "请先重新登录:此操作需要最近 {minutes} 分钟内的登录。",
    ),
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
    "wrong_gate": T(
        "These gate credentials belong to another gate.",
        "此閘機憑證屬於另一部閘機。",
        "此闸机凭证属于另一台闸机。",
    ),
    "wrong_station": T(
        "These gate credentials are not for this station.",
        "此閘機憑證不適用於此車站。",
        "此闸机凭证不适用于此车站。",
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
    "debts_unpaid": T(
        "Pay what is owed first ({count} unpaid fares; see GET /v1/me/debts and pay each with "
        "POST /v1/me/debts/{{id}}/payment), then delete the account.",
        "請先繳清欠款(共 {count} 筆未付車費;見 GET /v1/me/debts,逐筆以 "
        "POST /v1/me/debts/{{id}}/payment 繳付),然後再刪除帳戶。",
        "请先缴清欠款(共 {count} 笔未付车费;见 GET /v1/me/debts,逐笔以 "
        "POST /v1/me/debts/{{id}}/payment 缴付),然后再删除账户。",
    ),
    "charges_pending": T(
        "A fare is still being charged; try again once it is (GET /v1/journeys shows its status).",
        "仍有車費正在收取;收取完成後請再試(GET /v1/journeys 顯示其狀態)。",
        "仍有车费正在收取;收取完成后请再试(GET /v1/journeys 显示其状态)。",
    ),
    "journey_open": T(
        "A journey is still open: tap out (or let it close) first.",
        "仍有未結束的行程:請先拍卡出閘(或待其自動結束)。",
        "仍有未结束的行程:请先刷码出闸(或待其自动结束)。",
    ),
    "deletion_not_confirmed": T(
        "That confirmation code is not valid for this session (or has expired): ask again with "
        "POST /v1/me/deletion.",
        "此確認碼對本次登入無效(或已過期):請以 POST /v1/me/deletion 重新申請。",
        "此确认码对本次登录无效(或已过期):请以 POST /v1/me/deletion 重新申请。",
    ),
    "export_not_found": T("No such export.", "找不到此匯出。", "找不到此导出。"),
    "export_not_ready": T(
        "The export is not ready yet ({status}); check its progress and try again.",
        "匯出尚未完成({status}),請查看進度後再試。",
        "导出尚未完成({status}),请查看进度后再试。",
    ),
    "export_expired": T(
        "This export has expired; ask for a new one.",
        "此匯出已過期,請重新申請。",
        "此导出已过期,请重新申请。",
    ),
    "ticket_cancelled": T(
        "This ticket was cancelled and will not board.",
        "此車票已取消，不能登乘。",
        "此车票已取消，不能登乘。",
    ),
    "consent_required": T(
        "Personal data would be sent to {destination} for {purpose}: give that consent first.",
        "個人資料將傳送至{destination}（{purpose}）：請先給予同意。",
        "个人信息将传送至{destination}（{purpose}）：请先给予同意。",
    ),
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
        "Ride codes are blocked for this account: pay what is owed (GET /v1/me/debts), or contact "
        "customer service.",
        "此帳戶的乘車碼已被停用:請繳清欠款(GET /v1/me/debts),或聯絡客戶服務。",
        "此账户的乘车码已被停用:请缴清欠款(GET /v1/me/debts),或联系客户服务。",
    ),
    "tap_id_reused": T(
        "This gate already used this tap id for another scan.",
        "此閘機已將此拍卡編號用於另一次掃描。",
        "此闸机已将此刷卡编号用于另一次扫描。",
    ),
    "unfinished_journey": T(
        "A journey is still open: tap out where you are first.",
        "有行程尚未結束:請先在所在車站出閘。",
        "有行程尚未结束:请先在所在车站出闸。",
    ),
    "code_not_found": T(
        "No such ride code, or it has expired.", "找不到此乘車碼,或已過期。", "找不到此乘车码,或已过期。"
    ),
    "code_expired": T(
        "This ride code has expired; get a new one.",
        "此乘車碼已過期,請重新取得。",
        "此乘车码已过期,请重新获取。",
    ),
    "repair_exists": T(
        "This journey has a repair already ({status}); a journey is repaired once.",
        "此行程已有補登({status}),每個行程只可補登一次。",
        "此行程已有补登({status}),每个行程只可补登一次。",
    ),
    "repair_decided": T(
        "This repair has been decided already ({status}).",
        "此補登申請已有決定({status})。",
        "此补登申请已有决定({status})。",
    ),
    "repair_not_found": T("No such repair.", "找不到此補登申請。", "找不到此补登申请。"),
    "debt_not_found": T("No such debt.", "找不到此欠款。", "找不到此欠款。"),
    "debt_payment_in_progress": T(
        "This debt is being charged right now; look again shortly.",
        "此欠款正在扣款中,請稍後再查看。",
        "此欠款正在扣款中,请稍后再查看。",
    ),
    "repair_too_late": T(
        "A journey can be repaired within {repair_days} days of its entry only.",
        "行程只可在進站後 {repair_days} 天內補登。",
        "行程只可在进站后 {repair_days} 天内补登。",
    ),
    "journey_not_found": T("No such journey.", "找不到此行程。", "找不到此行程。"),
    "journey_not_unfinished": T(
        "This journey is {status}; only an unfinished journey can be repaired.",
        "此行程狀態為 {status},只有未完成的行程可以補登。",
        "此行程状态为 {status},只有未完成的行程可以补登。",
    ),
    "operator_not_found": T("No such operator.", "找不到此營運商。", "找不到此运营商。"),
    "settlement_day_not_over": T(
        "The day {date} is not over yet in the operator's time zone; it cannot be closed.",
        "營運商所在時區的 {date} 尚未結束,不能結算。",
        "运营商所在时区的 {date} 尚未结束,不能结算。",
    ),
    "settlement_cursor_stale": T(
        "This settlement day closed while it was being read; read it again from the start.",
        "此結算日在讀取期間已結算,請從頭再讀。",
        "此结算日在读取期间已结算,请从头再读。",
    ),
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
    # Cross-border travel (issue 4)
    "departure_not_found": T("No such departure.", "找不到此班次。", "找不到此班次。"),
    "departure_departed": T("This departure has left.", "此班次已開出。", "此班次已开出。"),
    "booking_not_found": T("No such booking.", "找不到此訂單。", "找不到此订单。"),
    "ticket_not_found": T("No such ticket.", "找不到此車票。", "找不到此车票。"),
    "sold_out": T("Not enough seats are left on this departure.", "此班次座位不足。", "此班次座位不足。"),
    "departure_cancelled": T("This departure has been cancelled.", "此班次已取消。", "此班次已取消。"),
    "move_not_available": T(
        "This booking cannot be moved: its refund is under way, or no departure with seats is left.",
        "此訂單無法改期:退款已在處理,或已沒有尚有座位的班次。",
        "此订单无法改期:退款已在处理,或已没有尚有座位的班次。",
    ),
    "passenger_not_found": T(
        "No such passenger on this booking.", "此訂單沒有此乘客。", "此订单没有此乘客。"
    ),
    "sales_closed": T("Sales for this departure have closed.", "此班次已停止售票。", "此班次已停止售票。"),
    "passenger_already_booked": T(
        "Passenger {number} (passengers.{passenger}) already has a seat on this departure.",
        "第 {number} 位乘客(passengers.{passenger})已有此班次的座位。",
        "第 {number} 位乘客(passengers.{passenger})已有此班次的座位。",
    ),
    "too_many_holds": T(
        "You already have {limit} unpaid bookings; pay for or cancel one first.",
        "你已有 {limit} 張未付款的訂單,請先付款或取消其中一張。",
        "你已有 {limit} 张未付款的订单,请先付款或取消其中一张。",
    ),
    "too_many_passengers": T(
        "Too many passengers for one booking.", "一張訂單的乘客人數過多。", "一张订单的乘客人数过多。"
    ),
    "document_not_accepted": T(
        "The document of passenger {number} (passengers.{passenger}) cannot be used for this crossing: "
        "{reason}.",
        "第 {number} 位乘客(passengers.{passenger})的證件不能用於此口岸:{reason}。",
        "第 {number} 位乘客(passengers.{passenger})的证件不能用于此口岸:{reason}。",
    ),
    "hold_expired": T(
        "The seats were held too long and have been released; nothing was charged.",
        "座位保留已逾時並已釋放,未有扣款。",
        "座位保留已超时并已释放,未有扣款。",
    ),
    "payment_in_progress": T(
        "This booking is being paid for; retry shortly.",
        "此訂單正在付款中,請稍後重試。",
        "此订单正在付款中,请稍后重试。",
    ),
    "payment_declined": T(
        "The wallet declined the payment; nothing was charged.",
        "錢包拒絕了此付款,未有扣款。",
        "钱包拒绝了此付款,未有扣款。",
    ),
    "payment_provider_unavailable": T(
        "Your wallet's payment provider is not available now.",
        "你的錢包支付服務暫時無法使用。",
        "你的钱包支付服务暂时无法使用。",
    ),
    "payment_provider_error": T(
        "The payment provider did not answer properly; nothing was charged.",
        "支付服務未有正常回應,未有扣款。",
        "支付服务未有正常响应,未有扣款。",
    ),
    "booking_cancelled": T("This booking has been cancelled.", "此訂單已取消。", "此订单已取消。"),
    "booking_not_cancellable": T(
        "This booking can no longer be cancelled.", "此訂單已不能取消。", "此订单已不能取消。"
    ),
    "carrier_error": T(
        "The carrier did not answer properly; no seats were kept and nothing was charged.",
        "承運商未有正常回應,未保留座位,亦未有扣款。",
        "承运商未有正常响应,未保留座位,也未有扣款。",
    ),
    "confirmation_pending": T(
        "You were charged but the carrier has not confirmed yet. Retry with the same "
        "Idempotency-Key; if it cannot be confirmed, the charge is refunded.",
        "已扣款,但承運商尚未確認。請以相同的 Idempotency-Key 重試;如無法確認,款項將會退回。",
        "已扣款,但承运商尚未确认。请以相同的 Idempotency-Key 重试;如无法确认,款项将会退回。",
    ),
    "carrier_timeout": T(
        "The carrier did not answer in time; no seats were kept. Retry with the same Idempotency-Key.",
        "承運商未有及時回應,未保留座位。請以相同的 Idempotency-Key 重試。",
        "承运商未有及时响应,未保留座位。请以相同的 Idempotency-Key 重试。",
    ),
    "payment_pending": T(
        "The payment provider has not said whether you were charged. Nothing is lost: retry with "
        "the same Idempotency-Key, or wait; if the charge went through and cannot be used, it is "
        "refunded.",
        "支付服務商尚未確認是否已扣款。款項不會遺失:請以相同的 Idempotency-Key 重試或稍候;"
        "如已扣款而未能使用,款項將會退回。",
        "支付服务商尚未确认是否已扣款。款项不会遗失:请以相同的 Idempotency-Key 重试或稍候;"
        "如已扣款而未能使用,款项将会退回。",
    ),
    "carrier_refused": T("The carrier refused: {reason}.", "承運商拒絕:{reason}。", "承运商拒绝:{reason}。"),
    # Counter appointments (issue 5)
    "service_not_found": T("No such service.", "找不到此服務。", "找不到此服务。"),
    "centre_not_found": T("No such service centre.", "找不到此服務中心。", "找不到此服务中心。"),
    "centre_not_bookable": T(
        "This appointment's centre is now a self-service kiosk ({centre}) and takes no appointments:"
        " it cannot be rescheduled. Cancel it, or walk up to the kiosk in its opening hours.",
        "此預約的服務點現為自助服務機({centre}),不設預約,無法改期。請取消預約,或於開放時間前往使用。",
        "此预约的服务点现为自助服务机({centre}),不设预约,无法改期。请取消预约,或于开放时间前往使用。",
    ),
    "service_not_offered": T(
        "This centre does not offer that service.", "此服務中心不提供該服務。", "此服务中心不提供该服务。"
    ),
    "outside_booking_window": T(
        "Appointments can be booked from {first} to {last}.",
        "只可預約 {first} 至 {last} 的時段。",
        "只可预约 {first} 至 {last} 的时段。",
    ),
    "centre_closed": T("The centre is closed that day.", "服務中心當日不開放。", "服务中心当日不开放。"),
    "outside_opening_hours": T(
        "That time is outside the centre's opening hours.",
        "該時間不在服務中心的開放時間內。",
        "该时间不在服务中心的开放时间内。",
    ),
    "not_slot_boundary": T(
        "That is not the start of a slot; choose one from the slot list.",
        "該時間不是時段的開始,請從時段列表中選擇。",
        "该时间不是时段的开始,请从时段列表中选择。",
    ),
    "slot_full": T(
        "This slot is fully booked; choose another.", "此時段已額滿,請另選時段。", "此时段已满,请另选时段。"
    ),
    "rider_limit_reached": T(
        "You already hold {limit} active appointments for this service.",
        "你已持有此服務的 {limit} 個有效預約。",
        "你已持有此服务的 {limit} 个有效预约。",
    ),
    "id_document_not_accepted": T(
        "This service does not accept that identity document.",
        "此服務不接受該身份證明文件。",
        "此服务不接受该身份证明文件。",
    ),
    "document_required": T(
        "This service limits appointments per person: choose the applicant's identity document.",
        "此服務按人限制預約數目:請選擇申請人的身份證明文件。",
        "此服务按人限制预约数目:请选择申请人的身份证明文件。",
    ),
    "document_mismatch": T(
        "The document shown is not the one this appointment was booked with.",
        "出示的證件並非預約時所用的證件。",
        "出示的证件并非预约时所用的证件。",
    ),
    "document_check_locked": T(
        "The typed document did not match {mismatches} times: this appointment's document check is"
        " locked. Check the person in by looking at the document, without typing its number.",
        "輸入的證件號碼已 {mismatches} 次不符:此預約的證件比對已鎖定。請查看證件後辦理報到,無需輸入號碼。",
        "输入的证件号码已 {mismatches} 次不符:此预约的证件比对已锁定。请查看证件后办理报到,无需输入号码。",
    ),
    "document_not_booked": T(
        "This appointment was booked without a document: there is none to compare.",
        "此預約未以證件預約,無從比對。",
        "此预约未以证件预约,无从比对。",
    ),
    "appointment_not_found": T("No such appointment.", "找不到此預約。", "找不到此预约。"),
    "appointment_not_active": T(
        "This appointment is {status} and can no longer be changed.",
        "此預約狀態為 {status},不能再更改。",
        "此预约状态为 {status},不能再更改。",
    ),
    "appointment_started": T(
        "This appointment has started and can no longer be cancelled or rescheduled.",
        "此預約已開始,不能取消或改期。",
        "此预约已开始,不能取消或改期。",
    ),
    "cancellation_cooldown": T(
        "You cancelled this slot recently; you can book it again from {until}.",
        "你剛取消了此時段,可於 {until} 起再預約。",
        "你刚取消了此时段,可于 {until} 起再预约。",
    ),
    "cancellation_still_counts": T(
        "This person's recent cancellation holds its desk and counts for them until {until}; book then.",
        "此人剛取消的預約仍佔用其櫃檯,至 {until} 前仍計入此人名下,請於其後再預約。",
        "此人刚取消的预约仍占用其柜台,至 {until} 前仍计入此人名下,请于其后再预约。",
    ),
    "quota_exceeded": T(
        "This person already has {limit} appointments with this department for that {window}.",
        "此人在該{window}已有 {limit} 個此部門的預約。",
        "此人在该{window}已有 {limit} 个此部门的预约。",
    ),
    "no_show_too_early": T(
        "Too early for a no-show: the person still counts as on time until {time}.",
        "尚未可記為缺席:此人在 {time} 前仍算準時。",
        "尚未可记为缺席:此人在 {time} 前仍算准时。",
    ),
    "arrived_late": T(
        "Too late to check in: this centre takes people until {time}; please book again.",
        "已過報到時間:本中心只接待至 {time},請重新預約。",
        "已过报到时间:本中心只接待至 {time},请重新预约。",
    ),
    "centre_closed_now": T(
        "The centre is closed now; walk-ins are taken during opening hours.",
        "中心現已關閉;現場排隊只在開放時間內受理。",
        "中心现已关闭;现场排队只在开放时间内受理。",
    ),
    "centre_blocked": T(
        "The centre is closed until {time} ({reason}): no check-ins, walk-ins or calls until then.",
        "中心暫停服務至 {time}({reason}):其間不受理報到、現場排隊或叫號。",
        "中心暂停服务至 {time}({reason}):其间不受理报到、现场排队或叫号。",
    ),
    "counter_blocked": T(
        "This desk is closed until {time} ({reason}): it calls nobody until then.",
        "此櫃台暫停服務至 {time}({reason}):其間不叫號。",
        "此柜台暂停服务至 {time}({reason}):其间不叫号。",
    ),
    "block_not_found": T("No such block at this centre.", "此中心沒有此暫停時段。", "此中心没有此暂停时段。"),
    "block_in_past": T(
        "That time has passed; nothing to block.", "該時間已過,無需暫停。", "该时间已过,无需暂停。"
    ),
    "qr_required": T(
        "At this centre a person checks in with the QR code of the booking and their identity document.",
        "在本中心須出示預約二維碼及身份證明文件報到。",
        "在本中心须出示预约二维码及身份证明文件报到。",
    ),
    "not_bookable": T(
        "This is a self-service kiosk: walk up during its opening hours, no appointment needed.",
        "這是自助服務機:開放時間內直接前往使用,毋須預約。",
        "这是自助服务机:开放时间内直接前往使用,无须预约。",
    ),
    "same_slot": T("That is the slot already booked.", "這是已預約的時段。", "这是已预约的时段。"),
    "invalid_code": T(
        "This is not a valid appointment code ({reason}).",
        "這不是有效的預約碼({reason})。",
        "这不是有效的预约码({reason})。",
    ),
    "code_superseded": T(
        "This QR code was replaced (the appointment was rescheduled); show the new one.",
        "此二維碼已被取代(預約已改期),請出示新的二維碼。",
        "此二维码已被取代(预约已改期),请出示新的二维码。",
    ),
    "code_mismatch": T(
        "The code is for another appointment.", "此預約碼屬於另一個預約。", "此预约码属于另一个预约。"
    ),
    "not_today": T(
        "Check-in is only possible on the day of the appointment.",
        "只可於預約當日報到。",
        "只可于预约当日报到。",
    ),
    "counter_not_found": T(
        "No such counter at this centre.", "此服務中心沒有該櫃檯。", "此服务中心没有该柜台。"
    ),
    "not_called": T(
        "This person has not been called ({status}).",
        "此人尚未被叫號({status})。",
        "此人尚未被叫号({status})。",
    ),
    "invalid_transition": T(
        "An appointment that is {status} cannot become {outcome}.",
        "狀態為 {status} 的預約不能改為 {outcome}。",
        "状态为 {status} 的预约不能改为 {outcome}。",
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


# Messages whose English changes with a count: code -> (the count's param, the text when it is 1).
# Chinese has no plural forms, so only `en` differs from MESSAGES.
SINGULAR: dict[str, tuple[str, Text]] = {
    "payload_too_large": ("limit", T("The request body is larger than {limit} byte.")),
    "rate_limited": ("retry_after", T("Too many requests; retry after {retry_after} second.")),
    "rider_limit_reached": ("limit", T("You already hold {limit} active appointment for this service.")),
    "too_many_holds": ("limit", T("You already have {limit} unpaid booking; pay for or cancel it first.")),
    "quota_exceeded": (
        "limit",
        T("This person already has {limit} appointment with this department for that {window}."),
    ),
    "reauthentication_required": (
        "minutes",
        T("Sign in again first: this needs a sign-in from the last {minutes} minute."),
    ),
    "debts_unpaid": (
        "count",
        T(
            "Pay what is owed first ({count} unpaid fare; see GET /v1/me/debts and pay it with "
            "POST /v1/me/debts/{{id}}/payment), then delete the account."
        ),
    ),
}


def message_for(code: str, language: str, status: int = 400, /, **params: Any) -> str:
    """Positional-only arguments: an error's own params may be called anything (even `status`)."""
    text = MESSAGES.get(code) or MESSAGES.get(_BY_STATUS.get(status, "internal_error"))
    assert text is not None
    singular = SINGULAR.get(code)
    if singular and language == "en" and str(params.get(singular[0])) == "1":
        text = singular[1]
    template = text.get(language)
    named = {k: v.get(language) if isinstance(v, Text) else v for k, v in params.items()}
    try:
        return template.format(**named)
    except (KeyError, IndexError, ValueError):
        return template
