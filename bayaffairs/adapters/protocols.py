"""One protocol per adapter kind: the verbs the core calls, and the values they exchange.

Each capability issue (ride codes, travel, appointments) grows the protocol of its own kinds;
an adapter is checked against its kind's protocol when the registry loads it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from marshmallow import Schema, fields, validate

from bayaffairs.i18n import Text
from bayaffairs.money import Money

RIDER_CATEGORIES = ("adult", "child", "student", "elderly")


class AgeCategorySettings(Schema):
    """Settings fragment for identity providers that derive the category from a birth date."""

    class Meta:
        unknown = "raise"

    elderly_age = fields.Integer(load_default=65, validate=validate.Range(min=1, max=150))
    child_age_below = fields.Integer(load_default=12, validate=validate.Range(min=0, max=150))


def rider_category(birth: date, today: date, elderly_age: int, child_age_below: int) -> str:
    """The fare category an identity provider's verified birth date implies (age on `today`,
    the local date of the jurisdiction). Student status needs a separate proof."""
    age = today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))
    if age >= elderly_age:
        return "elderly"
    if age < child_age_below:
        return "child"
    return "adult"


@dataclass(frozen=True)
class VerifiedIdentity:
    """What an identity provider vouches for after a successful code exchange."""

    subject: str
    display_name: str | None = None
    category: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class IdentityProvider(Protocol):
    async def exchange(self, code: str, claims: Mapping[str, Any]) -> VerifiedIdentity:
        """Exchange a mini-program or OAuth login code for a verified identity.

        `claims` are the extra fields the app sent beside the code; only a provider that cannot
        verify anything (the `dev` provider) may trust them. Raise `LoginRejected` when the
        provider refuses the code, `PartnerError` when it cannot be reached.
        """
        ...


class LoginRejected(Exception):
    """The identity provider refused the code (expired, used, forged)."""


@dataclass(frozen=True)
class ChargeRequest:
    reference: str
    amount: Money
    account: str
    description: str = ""


@dataclass(frozen=True)
class RefundRequest:
    reference: str
    charge_reference: str
    provider_charge_id: str
    amount: Money


@dataclass(frozen=True)
class PaymentOutcome:
    succeeded: bool
    provider_reference: str
    amount: Money
    failure_code: str | None = None


@runtime_checkable
class PaymentProvider(Protocol):
    currencies: frozenset[str]

    async def charge(self, request: ChargeRequest) -> PaymentOutcome:
        """Charge the rider; must be idempotent per `request.reference`."""
        ...

    async def refund(self, request: RefundRequest) -> PaymentOutcome:
        """Refund (part of) a charge; idempotent per `request.reference`."""
        ...


@dataclass(frozen=True)
class FxRate:
    base: str
    quote: str
    rate: Decimal
    as_of: datetime
    source: str


@runtime_checkable
class FxRateSource(Protocol):
    async def rate(self, base: str, quote: str, at: datetime) -> FxRate:
        """The rate to turn an amount in `base` into `quote`, valid at `at`."""
        ...


@dataclass(frozen=True)
class Notification:
    recipient: str
    channel: str
    subject: Text
    body: Text
    language: str = "en"
    dedupe_key: str | None = None


@runtime_checkable
class Notifier(Protocol):
    async def send(self, notification: Notification) -> str:
        """Deliver a notification; returns the provider's message id."""
        ...


@runtime_checkable
class TransitOperator(Protocol):
    """A bus, metro, rail, light-rail or shuttle operator whose gates take ride codes.

    The value types (OperatorInfo, OperatorRules, FareEngine, Trip, FareQuote) are in
    `bayaffairs.transit.model`.
    """

    def describe(self) -> Mapping[str, Any]:
        """Id, name, modes, currency, fare model and the stations or routes of the operator
        (JSON-ready; names may be `Text`, localised by the caller)."""
        ...

    def info(self) -> Any:
        """The operator as an `OperatorInfo`."""
        ...

    def rules(self) -> Any:
        """Its tap rules as `OperatorRules`."""
        ...

    def fares(self) -> Any:
        """Its `FareEngine`, built from config by fare model."""
        ...


@dataclass(frozen=True)
class CarrierHoldRequest:
    """Seats to hold at the carrier for one of our bookings.

    `reference` is our booking id: the carrier's idempotency key for hold, confirm, release and
    cancel, so a retry after a timeout finds the same hold instead of making a second one.
    """

    reference: str
    departure: str  # our departure id: route id, service date and local time (see travel.model)
    fare_class: str
    seats: int
    expires_at: datetime


@dataclass(frozen=True)
class CarrierHold:
    carrier_reference: str
    expires_at: datetime


@dataclass(frozen=True)
class CarrierPassenger:
    """One passenger as the carrier receives them: only the fields its manifest declares."""

    passenger_id: str
    fields: Mapping[str, str]


@dataclass(frozen=True)
class CarrierConfirmation:
    carrier_reference: str


class CarrierRefused(Exception):
    """The carrier answered and said no (sold out on its side, hold expired, unknown booking).

    `code` is a stable snake_case reason such as `sold_out` or `hold_expired`.
    """

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(message or code)
        self.code = code


@runtime_checkable
class BorderCarrier(Protocol):
    """A rail, coach, ferry or bridge-shuttle carrier selling cross-border seats.

    Timetable, fares and refund rules come from config (`timetable()`, value types in
    `bayaffairs.travel.model`); seats are counted in our database for every carrier. A carrier
    whose manifest says `remote = true` also keeps its own inventory: the verbs below are real
    calls to its booking API, each idempotent per `reference`. A local carrier's verbs do
    nothing and return at once. Network failures raise `PartnerError`; refusals `CarrierRefused`.
    """

    def describe(self) -> Mapping[str, Any]:
        """Id, name, mode, currency and routes of the carrier."""
        ...

    def timetable(self) -> Any:
        """Routes, service days, departures, fare classes, hold time and refund rules."""
        ...

    async def hold(self, request: CarrierHoldRequest) -> CarrierHold: ...

    async def confirm(self, reference: str, passengers: Sequence[CarrierPassenger]) -> CarrierConfirmation:
        """Turn the hold into sold seats and hand over the passenger manifest."""
        ...

    async def release(self, reference: str) -> None:
        """Give back a hold that will not be paid (expired, failed); unknown is fine."""
        ...

    async def cancel(self, reference: str) -> None:
        """Cancel confirmed seats (the rider cancelled); the refund is ours to make."""
        ...


@dataclass(frozen=True)
class AgencyEvent:
    """A change to one of our appointments that the agency's own system must hear of.

    `key` is unique per event (appointment id, event, QR version): the agency's idempotency key,
    so a push retried after a timeout records the event once. `fields` are only the personal
    data the agency's manifest declares.
    """

    key: str
    event: str  # booked | cancelled
    appointment_id: str
    reference: str
    centre_id: str
    service_id: str
    start: datetime
    end: datetime
    fields: Mapping[str, str]


@runtime_checkable
class CounterAgency(Protocol):
    """A government agency offering counter services at service centres.

    Services, centres, opening hours and counters are config (`catalog()`, an
    `bayaffairs.appointments.model.Agency`); slots and capacity are counted in our database for
    every agency. An agency whose manifest says `remote = true` also keeps its own book: `push`
    is a real call to its system, idempotent per `event.key`, raising `PartnerError` on a
    timeout or 5xx (the core retries from its outbox). A local agency's `push` does nothing.
    """

    def describe(self) -> Mapping[str, Any]:
        """Id, name, jurisdiction, services and centres of the agency."""
        ...

    def catalog(self) -> Any:
        """The agency's services and centres as an `Agency`."""
        ...

    async def push(self, event: AgencyEvent) -> str:
        """Tell the agency's system; returns its reference for the event."""
        ...


PROTOCOLS: dict[str, type] = {
    "identity_provider": IdentityProvider,
    "payment_provider": PaymentProvider,
    "fx_rate_source": FxRateSource,
    "notifier": Notifier,
    "transit_operator": TransitOperator,
    "border_carrier": BorderCarrier,
    "counter_agency": CounterAgency,
}
