"""Money as integer minor units plus an ISO 4217 currency."""

from __future__ import annotations

from dataclasses import dataclass

# Minor units per currency (ISO 4217 exponent) for the currencies the Bay Area uses.
MINOR_UNITS: dict[str, int] = {"CNY": 2, "HKD": 2, "MOP": 2}


@dataclass(frozen=True, slots=True)
class Money:
    amount: int
    currency: str

    def __post_init__(self) -> None:
        if self.currency not in MINOR_UNITS:
            raise ValueError(f"unsupported currency {self.currency!r}")
        if not isinstance(self.amount, int) or isinstance(self.amount, bool):
            raise TypeError("money amounts are integer minor units")

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount - other.amount, self.currency)

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValueError(f"cannot combine {self.currency} with {other.currency}")

    def as_dict(self) -> dict[str, object]:
        return {"amount": self.amount, "currency": self.currency}
