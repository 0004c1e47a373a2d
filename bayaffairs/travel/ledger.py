"""Where a booking's money stands, read from its append-only payment rows and its refunds owed:
pure functions, shared by the booking views, the payment and the sweeper."""

from __future__ import annotations

from collections.abc import Sequence

from bayaffairs.db.queries import travel_bookings as q
from bayaffairs.db.queries import travel_refunds as fq
from bayaffairs.money import Money

PAYMENT_STATUSES = ("unpaid", "pending", "charged", "refund_pending", "refunded", "refund_stuck")


def open_charge(payments: Sequence[q.PaymentRow], refunds: Sequence[fq.RefundRow]) -> q.PaymentRow | None:
    """The latest succeeded charge no refund (owed, made or stuck) names, if any."""
    refunded = {r.charge_id for r in refunds if r.status != "superseded"}
    for row in reversed(payments):
        if row.kind == "charge" and row.succeeded and row.id not in refunded:
            return row
    return None


def unknown_charges(payments: Sequence[q.PaymentRow]) -> list[q.PaymentRow]:
    """Charges heard of only as unknown: no succeeded or failed row answers their reference."""
    settled = {p.reference for p in payments if p.kind == "charge" and p.result != "unknown"}
    seen: dict[str | None, q.PaymentRow] = {}
    for p in payments:
        if p.kind == "charge" and p.result == "unknown" and p.reference not in settled:
            seen.setdefault(p.reference, p)
    return list(seen.values())


def payment_status(
    payments: Sequence[q.PaymentRow], refunds: Sequence[fq.RefundRow]
) -> tuple[str, Money | None, Money | None]:
    """Where the booking's money stands, with the charge and the refund owed (or paid) of it:
    `pending` while a charge's outcome is unknown (its amount shown: never "nothing charged"
    while that is not known), else `unpaid`, `charged`, `refund_pending`, `refund_stuck` or
    `refunded` for the latest succeeded charge."""
    unknown = unknown_charges(payments)
    charges = [p for p in payments if p.kind == "charge" and p.succeeded]
    last = charges[-1] if charges else None
    if unknown and last is None:
        return "pending", Money(unknown[0].amount, unknown[0].currency), None
    if last is None:
        return "unpaid", None, None
    owed = [r for r in refunds if r.charge_id == last.id and r.status != "superseded"]
    refund = Money(sum(r.amount for r in owed), last.currency) if owed else None
    if unknown:
        status = "pending"
    elif not owed:
        status = "charged"
    elif any(r.status == "stuck" for r in owed):
        status = "refund_stuck"
    elif any(r.status == "pending" for r in owed):
        status = "refund_pending"
    else:
        status = "refunded"
    return status, Money(last.amount, last.currency), refund
