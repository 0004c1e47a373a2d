"""The errors of cross-border travel, each with its stable code (texts in bayaffairs/messages.py)."""

from __future__ import annotations

from typing import Any

from bayaffairs.errors import Conflict, DomainError, Gone, InvalidInput, NotFound, PartnerError


class DepartureNotFound(NotFound):
    code = "departure_not_found"


class BookingNotFound(NotFound):
    code = "booking_not_found"


class SoldOut(Conflict):
    code = "sold_out"


class DepartureCancelled(Conflict):
    """409: the carrier (or an admin) cancelled the departure: nothing is held or sold on it."""

    code = "departure_cancelled"


class MoveNotAvailable(Conflict):
    """409: the booking cannot be moved (not cancelled with its departure, its refund already
    under way, or no departure with seats to move to)."""

    code = "move_not_available"


class SalesClosed(Conflict):
    """409: inside the carrier's sales cutoff (`sales_close_minutes` before departure)."""

    code = "sales_closed"


class PassengerAlreadyBooked(Conflict):
    """409: a document holds one seat per departure, across all bookings and riders."""

    code = "passenger_already_booked"

    def __init__(self, index: int, document_id: str) -> None:
        super().__init__(
            details={"passenger": index, "document_id": document_id}, number=index + 1, passenger=index
        )


class TooManyHolds(Conflict):
    """409: the rider already has `max_active_holds` unpaid bookings (held or paying)."""

    code = "too_many_holds"

    def __init__(self, limit: int) -> None:
        super().__init__(details={"max_active_holds": limit}, limit=limit)


class HoldExpired(Gone):
    code = "hold_expired"


class TicketVoid(Gone):
    """410: the ticket was cancelled (or released with its booking); it will not board."""

    code = "ticket_cancelled"


class DocumentNotAccepted(DomainError):
    """400: one passenger's document does not allow the crossing; says who and why.

    `details.passenger` is the index in the request's `passengers` (0 for the first, as in the
    field path `passengers.0.document_id`); the message counts from 1 and names both.
    """

    status = 400
    code = "document_not_accepted"

    def __init__(self, index: int, document_id: str, reason: str) -> None:
        super().__init__(
            details={
                "passenger": index,
                "document_id": document_id,
                "reason": reason,
                "fields": {f"passengers.{index}.document_id": [reason.replace("_", " ")]},
            },
            passenger=index,
            number=index + 1,
            reason=reason.replace("_", " "),
        )


def invalid_passenger(index: int, message: str, key: str = "document_id") -> InvalidInput:
    return InvalidInput({f"passengers.{index}.{key}": [message]})


class CarrierFailed(PartnerError):
    """502: the carrier answered with an error or could not be reached; nothing was kept."""

    code = "carrier_error"


class CarrierTimeout(DomainError):
    """504: the carrier did not answer in time; nothing was kept, retry with the same key."""

    status = 504
    code = "carrier_timeout"


class ConfirmationPending(DomainError):
    """504: charged, but the carrier failed or did not answer the confirmation, so whether it
    sold the seats is unknown. The booking stays `paying` with the charge standing; a retry (or
    the sweeper) asks again under the same reference, refunding only on a definite no."""

    status = 504
    code = "confirmation_pending"


class PaymentPending(DomainError):
    """504: the payment provider did not answer the charge, so whether the rider was charged is
    unknown. The booking stays `paying` and shows the charge as pending; a retry (or the
    sweeper) settles it under the same reference with the same amount."""

    status = 504
    code = "payment_pending"


class CarrierDeclined(Conflict):
    code = "carrier_refused"

    def __init__(self, reason: str, **params: Any) -> None:
        super().__init__(details={"reason": reason}, reason=reason, **params)


class PaymentDeclined(Conflict):
    code = "payment_declined"


class PaymentInProgress(Conflict):
    code = "payment_in_progress"


class NotCancellable(Conflict):
    code = "booking_not_cancellable"
