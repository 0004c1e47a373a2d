"""One base class per adapter kind: the verbs the core calls, and the values they exchange.

An adapter class extends the base of its kind (pretix-style): the base sets `kind`, and each
verb the core calls is a method whose docstring says what to return and what to raise; on the
base it raises NotImplementedError, and the registry refuses at load a class that does not
implement every verb of its kind. Optional hooks (`start`, `close`, `name`) have defaults in
`Adapter`. Bases for families of adapters build on these: `RemotePartner` (any partner over
HTTP, bayaffairs.integrations.remote), `ConfiguredCarrier` and `LocalCarrier`
(bayaffairs.travel.configured), `ConfiguredAgency` (bayaffairs.appointments.agency_settings).

Each capability issue (ride codes, travel, appointments) grows the base of its own kinds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from marshmallow import Schema, fields, validate

from bayaffairs.adapters.base import Adapter
from bayaffairs.i18n import Text
from bayaffairs.money import Money

if TYPE_CHECKING:  # the kinds' value types; their modules need nothing from here at import time
    from bayaffairs.appointments.model import Agency
    from bayaffairs.transit.model import FareEngine, OperatorInfo, OperatorRules
    from bayaffairs.travel.timetable import Timetable

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


class IdentityProvider(Adapter):
    kind: ClassVar[str] = "identity_provider"

    async def exchange(self, code: str, claims: Mapping[str, Any]) -> VerifiedIdentity:
        """Exchange a mini-program or OAuth login code for a verified identity.

        `claims` are the extra fields the app sent beside the code; only a provider that cannot
        verify anything (the `dev` provider) may trust them. Raise `LoginRejected` when the
        provider refuses the code, `PartnerError` when it cannot be reached.
        """
        raise NotImplementedError


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


class PaymentProvider(Adapter):
    kind: ClassVar[str] = "payment_provider"

    @property
    def currencies(self) -> frozenset[str]:
        """The wallet currencies it charges and refunds in."""
        raise NotImplementedError

    async def charge(self, request: ChargeRequest) -> PaymentOutcome:
        """Charge the rider; must be idempotent per `request.reference`. A decline is an outcome
        (`succeeded=False`); a provider that cannot be reached raises `PartnerError`."""
        raise NotImplementedError

    async def refund(self, request: RefundRequest) -> PaymentOutcome:
        """Refund (part of) a charge; idempotent per `request.reference`."""
        raise NotImplementedError

    async def lookup(self, reference: str) -> PaymentOutcome | None:
        """What became of the charge asked under `reference`, without charging: its outcome,
        or None when the provider has no charge under that reference. Raises `PartnerError`
        when the provider cannot say (unreachable, 5xx): the charge stays unknown."""
        raise NotImplementedError


@dataclass(frozen=True)
class FxRate:
    base: str
    quote: str
    rate: Decimal
    as_of: datetime
    source: str


class FxRateSource(Adapter):
    kind: ClassVar[str] = "fx_rate_source"

    async def rate(self, base: str, quote: str, at: datetime) -> FxRate:
        """The rate to turn an amount in `base` into `quote`, valid at `at`; `PartnerError`
        (code `fx_rate_unavailable`) when there is none to trust."""
        raise NotImplementedError


@dataclass(frozen=True)
class Notification:
    recipient: str
    channel: str
    subject: Text
    body: Text
    language: str = "en"
    dedupe_key: str | None = None


class Notifier(Adapter):
    kind: ClassVar[str] = "notifier"

    async def send(self, notification: Notification) -> str:
        """Deliver a notification (once per `dedupe_key`); returns the provider's message id."""
        raise NotImplementedError


class TransitOperator(Adapter):
    """A bus, metro, rail, light-rail or shuttle operator whose gates take ride codes.

    The value types (OperatorInfo, OperatorRules, FareEngine, Trip, FareQuote) are in
    `bayaffairs.transit.model`.
    """

    kind: ClassVar[str] = "transit_operator"

    def describe(self) -> Mapping[str, Any]:
        """Id, name, modes, currency, fare model and the stations or routes of the operator
        (JSON-ready; names may be `Text`, localised by the caller)."""
        raise NotImplementedError

    def info(self) -> OperatorInfo:
        """The operator: id, name, modes, currency, fare model, time zone, stops."""
        raise NotImplementedError

    def rules(self) -> OperatorRules:
        """Its tap rules."""
        raise NotImplementedError

    def fares(self) -> FareEngine:
        """Its fare engine, built from config by fare model."""
        raise NotImplementedError


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


class BorderCarrier(Adapter):
    """A rail, coach, ferry or bridge-shuttle carrier selling cross-border seats.

    Timetable, fares and refund rules come from config (`timetable()`, value types in
    `bayaffairs.travel.model`); seats are counted in our database for every carrier. A carrier
    whose manifest says `remote = true` also keeps its own inventory: the verbs below are real
    calls to its booking API, each idempotent per `reference`. A local carrier's verbs do
    nothing and return at once (`bayaffairs.travel.configured.LocalCarrier`). Network failures
    raise `PartnerError`; refusals `CarrierRefused`.
    """

    kind: ClassVar[str] = "border_carrier"

    def describe(self) -> Mapping[str, Any]:
        """Id, name, mode, currency and routes of the carrier."""
        raise NotImplementedError

    def timetable(self) -> Timetable:
        """Routes, service days, departures, fare classes, hold time and refund rules."""
        raise NotImplementedError

    async def hold(self, request: CarrierHoldRequest) -> CarrierHold:
        """Hold the seats until `request.expires_at` (or the carrier's own, earlier, expiry)."""
        raise NotImplementedError

    async def confirm(self, reference: str, passengers: Sequence[CarrierPassenger]) -> CarrierConfirmation:
        """Turn the hold into sold seats and hand over the passenger manifest."""
        raise NotImplementedError

    async def release(self, reference: str) -> None:
        """Give back a hold that will not be paid (expired, failed); unknown is fine."""
        raise NotImplementedError

    async def cancel(self, reference: str) -> None:
        """Cancel confirmed seats (the rider cancelled); the refund is ours to make."""
        raise NotImplementedError

    async def cancel_passengers(self, reference: str, passenger_ids: Sequence[str]) -> None:
        """Cancel some passengers' seats of a confirmed booking (by the ids of the manifest
        `confirm` handed over), the others still travel; idempotent per passenger. A passenger
        already cancelled there is fine."""
        raise NotImplementedError


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


class CounterAgency(Adapter):
    """A government agency offering counter services at service centres.

    Services, centres, opening hours and counters are config (`catalog()`, an
    `bayaffairs.appointments.model.Agency`); slots and capacity are counted in our database for
    every agency. An agency whose manifest says `remote = true` also keeps its own book: `push`
    is a real call to its system, idempotent per `event.key`, raising `PartnerError` on a
    timeout or 5xx (the core retries from its outbox). A local agency's `push` does nothing.
    """

    kind: ClassVar[str] = "counter_agency"

    def describe(self) -> Mapping[str, Any]:
        """Id, name, jurisdiction, services and centres of the agency."""
        raise NotImplementedError

    def catalog(self) -> Agency:
        """The agency's services and centres."""
        raise NotImplementedError

    async def push(self, event: AgencyEvent) -> str:
        """Tell the agency's system; returns its reference for the event ("" for none)."""
        raise NotImplementedError


def verbs(kind: type[Adapter]) -> list[str]:
    """The members a kind's base declares: what every adapter of the kind must implement."""
    return sorted(name for name in vars(kind) if not name.startswith("_") and name != "kind")


# The base class of each kind a manifest may name.
KIND_BASES: dict[str, type[Adapter]] = {
    "transit_operator": TransitOperator,
    "border_carrier": BorderCarrier,
    "counter_agency": CounterAgency,
    "identity_provider": IdentityProvider,
    "payment_provider": PaymentProvider,
    "fx_rate_source": FxRateSource,
    "notifier": Notifier,
}
