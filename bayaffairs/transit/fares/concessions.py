"""Concessions by rider category and transfer discounts: what turns a tariff fare into the fare a
rider pays.

Every engine prices the adult (full) fare from its tariff; `Pricing.quote` applies the rider
category's concession on top, and `Pricing.with_transfer` takes off a transfer discount when the
previous leg qualifies. Amounts are integer minor units; a fraction of a minor unit is rounded
half up (`percent_of`), the usual convention for fares, and a fare never goes below zero.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from bayaffairs.adapters.protocols import RIDER_CATEGORIES
from bayaffairs.i18n import Text
from bayaffairs.money import MINOR_UNITS, Money
from bayaffairs.transit.model import FareQuote, PreviousLeg, Trip

CONCESSION_KINDS = ("percent_off", "free", "fixed", "amount_off", "hk_two_dollar")
# Gates of two operators are not in lock-step: a previous leg may seem to end a little after
# this one starts (ride-codes.md: common clock-skew allowances are 5 minutes).
CLOCK_SKEW = timedelta(minutes=5)


class InvalidFareSettings(ValueError):
    """A fare setting an engine cannot price with. `key` names it, dotted as in config."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


def percent_of(fare: int, percent: Fraction) -> int:
    """`percent` % of `fare` in minor units, rounded half up (2.5 fen -> 3 fen), in exact integers."""
    den = 100 * percent.denominator
    return (2 * fare * percent.numerator + den) // (2 * den)


def fraction(value: int | float | Decimal | Fraction) -> Fraction:
    """Exact fraction of a config number (floats via their shortest text, so 0.1 stays 0.1)."""
    return Fraction(str(value)) if isinstance(value, float) else Fraction(value)


@dataclass(frozen=True)
class Concession:
    """What a rider category pays, derived from the full fare. Never more than the full fare.

    percent_off: pays (100 - percent)% of the fare; free: pays nothing; fixed: pays `amount` (or
    the fare if lower); amount_off: `amount` off; hk_two_dollar: the HK "$2 scheme" after the 2025
    change: a fare up to `threshold` costs `amount` (HK$2), above it `percent` (20) % of the fare.
    """

    kind: str
    label: str
    percent: Fraction = Fraction(0)
    amount: int = 0
    threshold: int = 0
    needs: str | None = None  # "height", "card": decided by what a ride code cannot prove

    @property
    def granted(self) -> bool:
        """Whether a ride code earns it: not when it rests on a height or a card."""
        return self.needs is None

    def apply(self, fare: int) -> int:
        if self.kind == "percent_off":
            paid = percent_of(fare, 100 - self.percent)
        elif self.kind == "free":
            paid = 0
        elif self.kind == "fixed":
            paid = self.amount
        elif self.kind == "amount_off":
            paid = fare - self.amount
        elif fare <= self.threshold:  # hk_two_dollar
            paid = self.amount
        else:
            paid = percent_of(fare, self.percent)
        return max(0, min(paid, fare))

    @classmethod
    def from_settings(cls, category: str, s: Mapping[str, Any]) -> Concession:
        kind = s["kind"]
        key = f"concessions.{category}"
        if kind not in CONCESSION_KINDS:
            raise InvalidFareSettings(f"{key}.kind", f"unknown kind {kind!r}")
        two_dollar = kind == "hk_two_dollar"
        percent = fraction(s.get("percent", 20 if two_dollar else 0))
        if kind in ("percent_off", "hk_two_dollar") and not 0 < percent <= 100:
            raise InvalidFareSettings(f"{key}.percent", "must be above 0 and at most 100")
        default = {
            "percent_off": f"{category}: {float(percent):g}% off",
            "free": f"{category}: free",
            "fixed": f"{category}: fixed fare",
            "amount_off": f"{category}: amount off",
            "hk_two_dollar": f"{category}: HK $2 scheme",
        }[kind]
        return cls(
            kind,
            s.get("label") or default,
            percent,
            int(s.get("amount", 200 if two_dollar else 0)),
            int(s.get("threshold", 1000)) if two_dollar else 0,
            s.get("needs"),
        )


@dataclass(frozen=True)
class TransferDiscount:
    """Money off this leg when the rider's previous leg, with one of `from_operators`, ended at
    most `within` before this one started: a fixed `amount`, or `percent` of the fare."""

    name: str
    from_operators: frozenset[str]
    within: timedelta
    amount: int = 0
    percent: Fraction | None = None
    title: Text | None = None  # what a rider reads on the journey's discount line

    def applies(self, previous: PreviousLeg, entered_at: datetime) -> bool:
        gap = entered_at - previous.ended_at
        return previous.operator in self.from_operators and -CLOCK_SKEW <= gap <= self.within

    def off(self, fare: int) -> int:
        if self.percent is not None:
            return min(fare, percent_of(fare, self.percent))
        return min(fare, self.amount)

    @classmethod
    def from_settings(cls, index: int, s: Mapping[str, Any]) -> TransferDiscount:
        percent = s.get("percent")
        if (percent is None) == (s.get("amount") is None):
            raise InvalidFareSettings(f"transfers.{index}", "give either amount or percent")
        return cls(
            name=s["name"],
            from_operators=frozenset(s["from"]),
            within=timedelta(minutes=s["within_minutes"]),
            amount=int(s.get("amount") or 0),
            percent=None if percent is None else fraction(percent),
            title=_text(s.get("title")),
        )


def _text(value: Text | Mapping[str, str] | str | None) -> Text | None:
    if value is None or isinstance(value, Text):
        return value
    return Text.from_mapping(value)


class Pricing:
    """An operator's concessions and transfer discounts, in its currency."""

    def __init__(
        self,
        currency: str,
        concessions: Mapping[str, Concession] | None = None,
        transfers: Sequence[TransferDiscount] = (),
    ) -> None:
        if currency not in MINOR_UNITS:
            raise InvalidFareSettings("currency", f"unsupported currency {currency!r}")
        self.currency = currency
        self.concessions = dict(concessions or {})
        self.transfers = tuple(transfers)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], currency: str) -> Pricing:
        concessions = {}
        for category, s in (settings.get("concessions") or {}).items():
            if category not in RIDER_CATEGORIES:
                raise InvalidFareSettings(f"concessions.{category}", "unknown rider category")
            concessions[category] = Concession.from_settings(category, s)
        transfers = [
            TransferDiscount.from_settings(i, s) for i, s in enumerate(settings.get("transfers") or ())
        ]
        return cls(currency, concessions, transfers)

    def quote(self, base: int, category: str, rule: str, published: int | None = None) -> FareQuote:
        """The quote for a rider of `category` whose full fare is `base`.

        A configured concession wins; otherwise a fare the tariff publishes for the category
        (an MTR child fare) applies; otherwise the full fare.
        """
        concession = self.concessions.get(category)
        if concession is not None and not concession.granted:
            concession = None
            published = None  # the tariff's own fare for the category rests on the same proof
        if concession is not None:
            amount, label = concession.apply(base), concession.label
        elif published is not None:
            amount, label = published, f"{category}: published fare"
        else:
            amount, label = base, None
        return FareQuote(Money(amount, self.currency), Money(base, self.currency), label, (), rule)

    def with_transfer(self, quote: FareQuote, trip: Trip) -> FareQuote:
        """The quote less the first transfer discount the trip's previous leg qualifies for."""
        if trip.previous is None:
            return quote
        for transfer in self.transfers:
            if transfer.applies(trip.previous, trip.entered_at):
                off = transfer.off(quote.amount.amount)
                if not off:
                    return quote
                return replace(
                    quote,
                    amount=Money(quote.amount.amount - off, self.currency),
                    discounts=(*quote.discounts, (transfer.name, off)),
                )
        return quote
