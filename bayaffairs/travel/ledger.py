"""Where a booking's money stands, read from its append-only payment rows and its refunds owed:
pure functions, shared by the booking views, the payment and the sweeper."""

from __future__ import annotations

from collections.abc import Sequence

from bayaffairs.db.queries import travel_bookings as q
from bayaffairs.db.queries import travel_refunds as fq
from bayaffairs.money import Money

PAYMENT_STATUSES = ("unpaid", "pending", "charged", "refund_pending", "refunded", "refund_stuck")


def open_charge(payments: Sequence[q.PaymentRow], refunds: Sequence[fq.RefundRow]) -> q.PaymentRow | None:
    """The latest succeeded charge not yet owed back in full (refunds owed, made or stuck count;
    a passenger's partial refund leaves the rest standing), if any."""
    owed: dict[str, int] = {}
    for r in refunds:
        if r.status != "superseded":
            owed[r.charge_id] = owed.get(r.charge_id, 0) + r.amount
    for row in reversed(payments):
        if row.kind == "charge" and row.succeeded and owed.get(row.id, 0) < max(row.amount, 1):
            return row
    return None


def shares(charged: int, passengers: Sequence[q.PassengerRow]) -> dict[int, int]:
    """Each passenger's part of a charge, by position: in proportion to their fares (equal
    parts when the fares are not known), rounded down, the last passenger taking what rounding
    left, so the parts add up to the charge."""
    total = sum(p.fare_amount for p in passengers)
    out: dict[int, int] = {}
    for p in passengers[:-1]:
        out[p.position] = charged * p.fare_amount // total if total else charged // len(passengers)
    if passengers:
        out[passengers[-1].position] = charged - sum(out.values())
    return out


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
