"""Application settings: config/app.toml, a profile overlay, then BAYAFFAIRS_* environment variables.

Every section is validated with marshmallow at start; any problem stops the start with one
`ConfigError` naming the file (or environment variable), the key and what is wrong.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import time
from ipaddress import IPv4Network, IPv6Network, ip_network
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates

from bayaffairs.config.errors import config_error_from, flatten_errors
from bayaffairs.config.regions import DOCUMENT_TYPES

CREDENTIAL_KINDS = ("gate", "operator", "carrier", "counter", "display", "admin")


@dataclass(frozen=True)
class ServerSettings:
    host: str = "0.0.0.0"  # noqa: S104 - a service listens on all interfaces by default
    port: int = 8080
    workers: int = 1
    max_body_bytes: int = 1024 * 1024
    public_base_url: str = "http://localhost:8080"
    shutdown_seconds: float = 10.0  # SIGTERM: drain, then exit within this
    # Peers whose X-Forwarded-For is believed (reverse proxies): addresses or networks.
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = ()


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = "postgresql://postgres@127.0.0.1:5432/bayaffairs"
    pool_min: int = 2
    pool_max: int = 10
    command_timeout: float = 10.0
    # Opening a connection (TCP + startup + auth) gives up after this: an unreachable server
    # (packets dropped) then answers 503 promptly instead of after asyncpg's 60 s default.
    connect_timeout_seconds: float = 5.0


@dataclass(frozen=True)
class RedisSettings:
    url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = "bya:"
    max_connections: int = 64
    pool_timeout_seconds: float = 5.0  # a request waits this long for a connection, then 503


# Device tokens' lifetime per credential kind, unless [auth.token_ttl_days] says otherwise.
DEFAULT_TOKEN_TTL_DAYS: Mapping[str, int] = {
    "gate": 365,
    "operator": 90,
    "carrier": 365,
    "counter": 365,
    "display": 365,
    "admin": 30,
}


@dataclass(frozen=True)
class AuthSettings:
    session_ttl_hours: int = 720
    token_ttl_days: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_TOKEN_TTL_DAYS))
    cache_seconds: float = 5.0
    negative_cache_seconds: float = 60.0  # how long a worker remembers a credential id as unknown


@dataclass(frozen=True)
class SecretSettings:
    """Key lists of "key_id:base64(32 bytes)" entries; in each, the first one encrypts.

    `documents_keys` seal document numbers, `signing_keys` seal the issuers' private keys,
    `fingerprint_keys` key the documents' fingerprints (empty: derived from the current
    documents key, as before it was a secret of its own; see `documents/cipher.py`).
    """

    documents_keys: tuple[tuple[str, bytes], ...]
    signing_keys: tuple[tuple[str, bytes], ...]
    fingerprint_keys: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True)
class SigningSettings:
    """Issuers sign codes and tickets. A rotated key is published `key_lead_hours` before it
    signs (gates download it first); a replaced key stays published and verifying for
    `presentable_hours[issuer]` after it stopped signing: as long as anything it signed may still
    be presented (see `presentable_minimum`)."""

    issuers: tuple[str, ...] = ("ride_codes", "tickets", "appointments")
    algorithm: str = "ES256"
    key_lead_hours: int = 24
    presentable_hours: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class RideCodeSettings:
    """Ride codes: how long a code is good for, the tolerance for gate and phone clocks, how
    long a device credential lives, and how online scans are batched into commits."""

    code_seconds: int = 60
    skew_seconds: int = 300
    refresh_after_seconds: int = 30
    credential_hours: int = 48
    offline_window_days: int = 7  # how old an uploaded offline tap may be
    repair_days: int = 7
    scan_batch_max: int = 256
    scan_writers: int = 4
    gate_backlog_hours: int = 24
    charge_batch: int = 500  # journeys the charging job claims per round
    charge_concurrency: int = 32  # payment-provider calls in flight at once
    charge_rounds: int = 20  # rounds per run of the job at most (then the next period)
    charge_share: float = 0.25  # of its worker's time the job takes at most under a backlog


@dataclass(frozen=True)
class SettlementSettings:
    """Settlement files: a local day closes at `settlement_close` ("HH:MM") of the next local day
    in the operator's time zone; the close looks for journeys changed since the previous close
    less `late_margin_minutes` (longer than any transaction that writes journeys)."""

    settlement_close: time = time(4, 0)
    late_margin_minutes: int = 60
    page_size: int = 1000
    close_days_per_run: int = 31


@dataclass(frozen=True)
class IdempotencySettings:
    retention_hours: int = 24
    lease_seconds: int = 30


@dataclass(frozen=True)
class DocumentRule:
    """One document type that makes a crossing: `holders`, the residents it is accepted from
    (CN, HK, MO, or `foreign` for passports of other countries; none: anyone), and for an
    Exit-Entry Permit the endorsement types one of which must be valid for the destination,
    with entries left."""

    document: str
    holders: tuple[str, ...] = ()
    endorsement: tuple[str, ...] = ()


@dataclass(frozen=True)
class CrossingRule:
    """The documents that cross from one legal region into another ("HK->CN"; "CN->HK:airside"
    when the destination port is airside: no entry there). `onward_flight_hours`: every
    passenger needs an onward flight leaving within that many hours of arrival (airside)."""

    documents: tuple[DocumentRule, ...]
    onward_flight_hours: int | None = None

    def needs(self, row: DocumentRule) -> list[str]:
        """What a document row needs besides itself, in words (docs/travel.md shows them)."""
        out = []
        if row.endorsement:
            out.append(f"endorsement {'/'.join(row.endorsement)} for the destination, valid, entries left")
        if self.onward_flight_hours is not None:
            out.append(f"onward flight within {self.onward_flight_hours} h of arrival")
        elif row.document == "passport" and (not row.holders or "foreign" in row.holders):
            out.append("foreign: a visa, a visa-free stay or the transit rule ([travel.entry])")
        return out


@dataclass(frozen=True)
class EntryRule:
    """What a foreign passport needs to enter a region: a visa (a `V` endorsement for it), or a
    visa-free stay (days by passport country), or where configured transit without a visa
    (passport countries, hours until the onward flight, control points where it applies)."""

    visa_free_days: Mapping[str, int] = field(default_factory=dict)
    transit_hours: int = 0
    transit_countries: tuple[str, ...] = ()
    transit_control_points: tuple[str, ...] = ()


@dataclass(frozen=True)
class TravelSettings:
    days_ahead: int = 14
    max_passengers: int = 9
    sweep_seconds: float = 5.0
    carrier_timeout_seconds: float = 8.0
    durable_holds: bool = True
    payment_recovery_seconds: float = 120.0  # a payment still `paying` this long was abandoned
    payment_give_up_seconds: float = 900.0  # charged, carrier never answered: refund, let go
    refund_retry_seconds: float = 30.0  # first retry of a failed refund; doubles, at most an hour
    refund_retry_attempts: int = 8
    max_active_holds: int = 5  # unpaid bookings (held or paying) a rider may have at once
    disruption_decide_minutes: int = 30  # a cancelled departure's riders may move this long
    notifier: str | None = "demo_notifier"  # tells riders of cancelled or changed departures
    crossings: Mapping[str, CrossingRule] = field(default_factory=dict)
    entry: Mapping[str, EntryRule] = field(default_factory=dict)


@dataclass(frozen=True)
class RetentionSettings:
    """How long each kind of record is kept, in days (README, "Personal data"). What the law
    keeps (payments, settlements, transfer records) has a floor the schema enforces."""

    documents_after_expiry: int = 30  # or until the rider deletes the document
    bookings_after_travel: int = 90  # then anonymised: passengers' names gone, rider unlinked
    appointments_after_visit: int = 90  # then anonymised likewise
    journeys: int = 90  # then unlinked from the rider; the settlement lines stay
    payments_and_settlements: int = 2557  # 7 years
    data_transfers: int = 1098  # 3 years
    access_log: int = 1098  # 3 years
    deletion_records: int = 1098  # proof that a deletion was done (no personal data)
    run_seconds: float = 3600.0  # how often the retention job runs
    batch: int = 1000  # records per transaction


@dataclass(frozen=True)
class PrivacySettings:
    """Re-authentication (a sign-in at most this many minutes old, per identity provider),
    the deletion confirmation, exports, and the retention table."""

    reauth_minutes: int = 5
    reauth_minutes_by_provider: Mapping[str, int] = field(default_factory=dict)
    deletion_confirm_minutes: int = 15
    deletion_retry_seconds: float = 300.0
    export_inline_max_records: int = 500
    export_hours: int = 24
    retention: RetentionSettings = field(default_factory=RetentionSettings)

    def reauth_window_minutes(self, provider: str | None) -> int:
        return self.reauth_minutes_by_provider.get(provider or "", self.reauth_minutes)


@dataclass(frozen=True)
class RateLimit:
    requests: int
    per_seconds: int


@dataclass(frozen=True)
class LoggingSettings:
    level: str = "INFO"
    json: bool = True
    access_log: bool = True


@dataclass(frozen=True)
class MetricsSettings:
    """/metrics: on by default; `token` makes it need `Authorization: Bearer <token>`; a `port`
    serves it on `host:port` only (not on the API's port). The backlog gauges (charges, refunds,
    offline taps waiting) count up to `backlog_limit` rows each and are left out of a scrape
    the database does not answer within `backlog_timeout_seconds`; one read serves every scrape
    of a worker for `backlog_cache_seconds` (and scrapes that come during a read wait for it), so
    scrapes at any rate cost the database one statement at a time."""

    enabled: bool = True
    token: str | None = None
    host: str = "127.0.0.1"
    port: int | None = None
    backlog_limit: int = 100_000
    backlog_timeout_seconds: float = 1.0
    backlog_cache_seconds: float = 5.0


@dataclass(frozen=True)
class Settings:
    server: ServerSettings
    database: DatabaseSettings
    redis: RedisSettings
    auth: AuthSettings
    secrets: SecretSettings
    signing: SigningSettings
    ride_codes: RideCodeSettings
    idempotency: IdempotencySettings
    rate_limits: Mapping[str, RateLimit]
    logging: LoggingSettings
    profile: str | None = None
    travel: TravelSettings = field(default_factory=TravelSettings)
    privacy: PrivacySettings = field(default_factory=PrivacySettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    settlement: SettlementSettings = field(default_factory=SettlementSettings)

    @property
    def profile_name(self) -> str:
        """The profile by name: "production" when none is named."""
        return self.profile or "production"


class _Section(Schema):
    class Meta:
        # Unknown keys are errors: a typo in a config file must not pass silently.
        unknown = "raise"


class ServerSchema(_Section):
    host = fields.String(load_default="0.0.0.0")  # noqa: S104
    port = fields.Integer(load_default=8080, validate=validate.Range(1, 65535))
    workers = fields.Integer(load_default=1, validate=validate.Range(1, 64))
    max_body_bytes = fields.Integer(load_default=1024 * 1024, validate=validate.Range(1024))
    public_base_url = fields.Url(load_default="http://localhost:8080", require_tld=False)
    shutdown_seconds = fields.Float(load_default=10.0, validate=validate.Range(1, 300))
    trusted_proxies = fields.List(fields.String(), load_default=list)

    @validates("trusted_proxies")
    def check_trusted_proxies(self, value: list[str], **_: Any) -> None:
        for entry in value:
            try:
                ip_network(entry, strict=False)
            except ValueError:
                raise ValidationError(f"{entry!r} is not an IP address or network (CIDR)") from None

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> ServerSettings:
        data["public_base_url"] = data["public_base_url"].rstrip("/")
        data["trusted_proxies"] = tuple(ip_network(e, strict=False) for e in data["trusted_proxies"])
        return ServerSettings(**data)


class DatabaseSchema(_Section):
    url = fields.String(required=True, validate=validate.Regexp(r"^postgres(ql)?://"))
    pool_min = fields.Integer(load_default=2, validate=validate.Range(0, 200))
    pool_max = fields.Integer(load_default=10, validate=validate.Range(1, 200))
    command_timeout = fields.Float(load_default=10.0, validate=validate.Range(0.1, 600))
    connect_timeout_seconds = fields.Float(load_default=5.0, validate=validate.Range(0.1, 60))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> DatabaseSettings:
        if data["pool_min"] > data["pool_max"]:
            raise ValidationError("must not be larger than pool_max", "pool_min")
        return DatabaseSettings(**data)


class RedisSchema(_Section):
    url = fields.String(required=True, validate=validate.Regexp(r"^rediss?://|^unix://"))
    key_prefix = fields.String(load_default="bya:", validate=validate.Length(1, 32))
    max_connections = fields.Integer(load_default=64, validate=validate.Range(1, 10000))
    pool_timeout_seconds = fields.Float(load_default=5.0, validate=validate.Range(0, 60))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> RedisSettings:
        return RedisSettings(**data)


class AuthSchema(_Section):
    session_ttl_hours = fields.Integer(load_default=720, validate=validate.Range(1, 24 * 365))
    token_ttl_days = fields.Dict(
        keys=fields.String(validate=validate.OneOf(CREDENTIAL_KINDS)),
        values=fields.Integer(validate=validate.Range(1, 3650)),
        load_default=dict,
    )
    cache_seconds = fields.Float(load_default=5.0, validate=validate.Range(0, 300))
    negative_cache_seconds = fields.Float(load_default=60.0, validate=validate.Range(0, 3600))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> AuthSettings:
        ttl = {**DEFAULT_TOKEN_TTL_DAYS, **data["token_ttl_days"]}
        return AuthSettings(
            session_ttl_hours=data["session_ttl_hours"],
            token_ttl_days=ttl,
            cache_seconds=data["cache_seconds"],
            negative_cache_seconds=data["negative_cache_seconds"],
        )


def parse_key(entry: str) -> tuple[str, bytes]:
    key_id, sep, encoded = entry.partition(":")
    if not sep or not key_id.isalnum() or len(key_id) > 16:
        raise ValidationError('each entry must look like "keyid:base64key" (alphanumeric key id)')
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError(f"key {key_id!r} is not valid base64") from None
    if len(key) != 32:
        raise ValidationError(f"key {key_id!r} must decode to 32 bytes, not {len(key)}")
    return key_id, key


def _check_key_list(value: list[str]) -> None:
    ids = [parse_key(v)[0] for v in value]
    if len(set(ids)) != len(ids):
        raise ValidationError("key ids must be unique")


class SecretsSchema(_Section):
    documents_keys = fields.List(fields.String(), required=True, validate=validate.Length(min=1))
    signing_keys = fields.List(fields.String(), required=True, validate=validate.Length(min=1))
    fingerprint_keys = fields.List(fields.String(), load_default=list)

    @validates("documents_keys")
    def check_documents_keys(self, value: list[str], **_: Any) -> None:
        _check_key_list(value)

    @validates("signing_keys")
    def check_signing_keys(self, value: list[str], **_: Any) -> None:
        _check_key_list(value)

    @validates("fingerprint_keys")
    def check_fingerprint_keys(self, value: list[str], **_: Any) -> None:
        _check_key_list(value)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> SecretSettings:
        return SecretSettings(
            documents_keys=tuple(parse_key(v) for v in data["documents_keys"]),
            signing_keys=tuple(parse_key(v) for v in data["signing_keys"]),
            fingerprint_keys=tuple(parse_key(v) for v in data["fingerprint_keys"]),
        )


class SigningSchema(_Section):
    issuers = fields.List(
        fields.String(validate=validate.Regexp(r"^[a-z][a-z_]{1,31}$")),
        load_default=lambda: ["ride_codes", "tickets", "appointments"],
        validate=validate.Length(min=1),
    )
    algorithm = fields.String(load_default="ES256", validate=validate.OneOf(["ES256", "Ed25519"]))
    key_lead_hours = fields.Integer(load_default=24, validate=validate.Range(0, 24 * 30))
    presentable_hours = fields.Dict(
        keys=fields.String(validate=validate.Regexp(r"^[a-z][a-z_]{1,31}$")),
        values=fields.Integer(validate=validate.Range(1, 24 * 800)),
        load_default=dict,
    )

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> SigningSettings:
        return SigningSettings(
            issuers=tuple(data["issuers"]),
            algorithm=data["algorithm"],
            key_lead_hours=data["key_lead_hours"],
            presentable_hours=dict(data["presentable_hours"]),
        )


# The longest an appointment can be booked ahead (the catalogue's max_days_ahead allows 365).
APPOINTMENT_DAYS_AHEAD_MAX = 365
DEFAULT_PRESENTABLE_HOURS = 96  # an issuer the code does not know: its longest-lived thing, guessed


def presentable_minimum(issuer: str, ride_codes: RideCodeSettings, travel: TravelSettings) -> int:
    """Hours after a key stops signing during which something it signed may still be presented:
    a ride credential lives up to 72 h and its taps are uploaded up to the offline window later;
    a ticket is sold up to `days_ahead` before its travel date; an appointment code is made up to
    a year before the appointment."""
    if issuer == "ride_codes":
        return 72 + ride_codes.offline_window_days * 24 + 1  # + the clock tolerance, rounded up
    if issuer == "tickets":
        return (travel.days_ahead + 1) * 24
    if issuer == "appointments":
        return (APPOINTMENT_DAYS_AHEAD_MAX + 1) * 24
    return DEFAULT_PRESENTABLE_HOURS


def with_presentable_hours(
    signing: SigningSettings, ride_codes: RideCodeSettings, travel: TravelSettings
) -> SigningSettings:
    """Fill in each issuer's horizon (its minimum unless config sets a longer one); a configured
    horizon shorter than the minimum would let a key vanish under valid codes: a ValidationError."""
    hours = {}
    for issuer in signing.issuers:
        minimum = presentable_minimum(issuer, ride_codes, travel)
        configured = signing.presentable_hours.get(issuer)
        if configured is not None and configured < minimum:
            raise ValidationError({"presentable_hours": {issuer: [f"must be at least {minimum} hours"]}})
        hours[issuer] = configured or minimum
    return replace(signing, presentable_hours=hours)


class SettlementSchema(_Section):
    settlement_close = fields.Time(load_default=time(4, 0), format="%H:%M")
    late_margin_minutes = fields.Integer(load_default=60, validate=validate.Range(1, 24 * 60))
    page_size = fields.Integer(load_default=1000, validate=validate.Range(1, 10000))
    close_days_per_run = fields.Integer(load_default=31, validate=validate.Range(1, 366))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> SettlementSettings:
        return SettlementSettings(**data)


class RideCodesSchema(_Section):
    code_seconds = fields.Integer(load_default=60, validate=validate.Range(10, 3600))
    skew_seconds = fields.Integer(load_default=300, validate=validate.Range(0, 3600))
    refresh_after_seconds = fields.Integer(load_default=30, validate=validate.Range(1, 3600))
    credential_hours = fields.Integer(load_default=48, validate=validate.Range(24, 72))
    offline_window_days = fields.Integer(load_default=7, validate=validate.Range(1, 30))
    repair_days = fields.Integer(load_default=7, validate=validate.Range(1, 90))
    scan_batch_max = fields.Integer(load_default=256, validate=validate.Range(1, 5000))
    scan_writers = fields.Integer(load_default=4, validate=validate.Range(1, 32))
    gate_backlog_hours = fields.Integer(load_default=24, validate=validate.Range(1, 7 * 24))
    charge_batch = fields.Integer(load_default=500, validate=validate.Range(1, 10_000))
    charge_concurrency = fields.Integer(load_default=32, validate=validate.Range(1, 256))
    charge_rounds = fields.Integer(load_default=20, validate=validate.Range(1, 1000))
    charge_share = fields.Float(load_default=0.25, validate=validate.Range(0.05, 1.0))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> RideCodeSettings:
        if data["refresh_after_seconds"] > data["code_seconds"]:
            raise ValidationError("must not be longer than code_seconds", "refresh_after_seconds")
        return RideCodeSettings(**data)


class IdempotencySchema(_Section):
    retention_hours = fields.Integer(load_default=24, validate=validate.Range(24, 24 * 30))
    lease_seconds = fields.Integer(load_default=30, validate=validate.Range(1, 600))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> IdempotencySettings:
        return IdempotencySettings(**data)


_COUNTRY = validate.Regexp(r"^[A-Z]{2,3}$")


class DocumentRuleSchema(_Section):
    document = fields.String(required=True, validate=validate.OneOf(DOCUMENT_TYPES))
    holders = fields.List(
        fields.String(validate=validate.OneOf(["CN", "HK", "MO", "foreign"])), load_default=list
    )
    endorsement = fields.List(fields.String(validate=validate.Regexp(r"^[A-Z]$")), load_default=list)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> DocumentRule:
        return DocumentRule(data["document"], tuple(data["holders"]), tuple(data["endorsement"]))


class CrossingSchema(_Section):
    documents = fields.List(fields.Nested(DocumentRuleSchema), required=True, validate=validate.Length(min=1))
    onward_flight_hours = fields.Integer(load_default=None, validate=validate.Range(1, 240))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> CrossingRule:
        return CrossingRule(tuple(data["documents"]), data["onward_flight_hours"])


class EntrySchema(_Section):
    visa_free_days = fields.Dict(
        keys=fields.String(validate=_COUNTRY),
        values=fields.Integer(validate=validate.Range(1, 366)),
        load_default=dict,
    )
    transit_hours = fields.Integer(load_default=0, validate=validate.Range(0, 30 * 24))
    transit_countries = fields.List(fields.String(validate=_COUNTRY), load_default=list)
    transit_control_points = fields.List(fields.String(validate=validate.Length(1, 64)), load_default=list)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> EntryRule:
        return EntryRule(
            dict(data["visa_free_days"]),
            data["transit_hours"],
            tuple(data["transit_countries"]),
            tuple(data["transit_control_points"]),
        )


class TravelSchema(_Section):
    days_ahead = fields.Integer(load_default=14, validate=validate.Range(1, 90))
    max_passengers = fields.Integer(load_default=9, validate=validate.Range(1, 50))
    sweep_seconds = fields.Float(load_default=5.0, validate=validate.Range(0.1, 3600))
    carrier_timeout_seconds = fields.Float(load_default=8.0, validate=validate.Range(0.1, 120))
    durable_holds = fields.Boolean(load_default=True)
    payment_recovery_seconds = fields.Float(load_default=120.0, validate=validate.Range(1, 86400))
    payment_give_up_seconds = fields.Float(load_default=900.0, validate=validate.Range(1, 7 * 86400))
    refund_retry_seconds = fields.Float(load_default=30.0, validate=validate.Range(0, 86400))
    refund_retry_attempts = fields.Integer(load_default=8, validate=validate.Range(1, 100))
    max_active_holds = fields.Integer(load_default=5, validate=validate.Range(1, 1000))
    disruption_decide_minutes = fields.Integer(load_default=30, validate=validate.Range(0, 24 * 60))
    notifier = fields.String(load_default="demo_notifier", allow_none=True, validate=validate.Length(1, 64))
    crossings = fields.Dict(
        keys=fields.String(validate=validate.Regexp(r"^(CN|HK|MO)->(CN|HK|MO)(:airside)?$")),
        values=fields.Nested(CrossingSchema),
        load_default=dict,
    )
    entry = fields.Dict(
        keys=fields.String(validate=validate.OneOf(["CN", "HK", "MO"])),
        values=fields.Nested(EntrySchema),
        load_default=dict,
    )

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> TravelSettings:
        return TravelSettings(**data)


_DAYS = validate.Range(1, 36500)
_SEVEN_YEARS = 7 * 365 + 2
_THREE_YEARS = 3 * 365 + 1


class RetentionSchema(_Section):
    documents_after_expiry = fields.Integer(load_default=30, validate=_DAYS)
    bookings_after_travel = fields.Integer(load_default=90, validate=_DAYS)
    appointments_after_visit = fields.Integer(load_default=90, validate=_DAYS)
    journeys = fields.Integer(load_default=90, validate=_DAYS)
    # Floors: books of account 7 years; the GBA standard contract's records at least 3 years.
    payments_and_settlements = fields.Integer(load_default=2557, validate=validate.Range(_SEVEN_YEARS, 36500))
    data_transfers = fields.Integer(load_default=1098, validate=validate.Range(_THREE_YEARS, 36500))
    access_log = fields.Integer(load_default=1098, validate=_DAYS)
    deletion_records = fields.Integer(load_default=1098, validate=_DAYS)
    run_seconds = fields.Float(load_default=3600.0, validate=validate.Range(1, 7 * 86400))
    batch = fields.Integer(load_default=1000, validate=validate.Range(1, 100_000))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> RetentionSettings:
        if data["journeys"] > data["payments_and_settlements"]:
            raise ValidationError("must not be longer than payments_and_settlements", "journeys")
        return RetentionSettings(**data)


class PrivacySchema(_Section):
    reauth_minutes = fields.Integer(load_default=5, validate=validate.Range(1, 60))
    reauth_minutes_by_provider = fields.Dict(
        keys=fields.String(validate=validate.Length(1, 48)),
        values=fields.Integer(validate=validate.Range(1, 60)),
        load_default=dict,
    )
    deletion_confirm_minutes = fields.Integer(load_default=15, validate=validate.Range(1, 1440))
    deletion_retry_seconds = fields.Float(load_default=300.0, validate=validate.Range(1, 86400))
    export_inline_max_records = fields.Integer(load_default=500, validate=validate.Range(0, 1_000_000))
    export_hours = fields.Integer(load_default=24, validate=validate.Range(1, 24 * 30))
    retention = fields.Nested(RetentionSchema, load_default=lambda: RetentionSchema().load({}))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> PrivacySettings:
        return PrivacySettings(**data)


class LoggingSchema(_Section):
    level = fields.String(load_default="INFO", validate=validate.OneOf(["DEBUG", "INFO", "WARNING", "ERROR"]))
    json = fields.Boolean(load_default=True)
    access_log = fields.Boolean(load_default=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> LoggingSettings:
        return LoggingSettings(**data)


class MetricsSchema(_Section):
    enabled = fields.Boolean(load_default=True)
    token = fields.String(load_default="", validate=validate.Length(max=256))
    host = fields.String(load_default="127.0.0.1", validate=validate.Length(1, 255))
    port = fields.Integer(load_default=0, validate=validate.Range(0, 65535))
    backlog_limit = fields.Integer(load_default=100_000, validate=validate.Range(1, 10_000_000))
    backlog_timeout_seconds = fields.Float(load_default=1.0, validate=validate.Range(0.05, 10))
    backlog_cache_seconds = fields.Float(load_default=5.0, validate=validate.Range(0, 300))

    @validates("token")
    def check_token(self, value: str, **_: Any) -> None:
        if value and len(value) < 24:
            raise ValidationError("at least 24 characters (or empty: no token)")

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> MetricsSettings:
        return MetricsSettings(
            data["enabled"],
            data["token"] or None,
            data["host"],
            data["port"] or None,
            data["backlog_limit"],
            data["backlog_timeout_seconds"],
            data["backlog_cache_seconds"],
        )


class RateLimitField(fields.Field[RateLimit]):
    """ "120/60" means 120 requests per 60 seconds; "0/1" switches the class off."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> RateLimit:
        text = fields.String().deserialize(value, attr, data)
        requests, sep, seconds = text.partition("/")
        if not (sep and requests.isdigit() and seconds.isdigit() and int(seconds) > 0):
            raise ValidationError('must look like "REQUESTS/SECONDS", e.g. "120/60"')
        return RateLimit(int(requests), int(seconds))


SECTIONS: dict[str, type[Schema]] = {
    "server": ServerSchema,
    "database": DatabaseSchema,
    "redis": RedisSchema,
    "auth": AuthSchema,
    "secrets": SecretsSchema,
    "signing": SigningSchema,
    "ride_codes": RideCodesSchema,
    "idempotency": IdempotencySchema,
    "logging": LoggingSchema,
    "travel": TravelSchema,
    "privacy": PrivacySchema,
    "metrics": MetricsSchema,
    "settlement": SettlementSchema,
}
# Sections holding open-ended tables rather than fixed keys.
OPEN_SECTIONS = ("rate_limits", "adapters")
ROUTE_CLASSES = ("auth", "read", "write", "scan", "admin")


def build_settings(data: Mapping[str, Any], source_of: Mapping[str, str], profile: str | None) -> Settings:
    """Validate the merged settings tables; `source_of` maps "section.key" to where it was set."""

    def fail(section: str, messages: Any) -> None:
        messages = messages if isinstance(messages, Mapping) else {"": messages}
        pairs = flatten_errors(messages, section)
        parts = (pairs[0][0] if pairs else section).split(".")
        candidates = (".".join(parts[:n]) for n in range(len(parts), 0, -1))
        source = next((source_of[c] for c in candidates if c in source_of), "config/app.toml")
        raise config_error_from(source, messages, section)

    unknown = set(data) - set(SECTIONS) - set(OPEN_SECTIONS)
    if unknown:
        name = sorted(unknown)[0]
        fail(
            name, {"": [f"unknown section; expected one of {', '.join(sorted([*SECTIONS, *OPEN_SECTIONS]))}"]}
        )
    loaded: dict[str, Any] = {}
    for section, schema in SECTIONS.items():
        try:
            loaded[section] = schema().load(data.get(section, {}))
        except ValidationError as exc:
            fail(section, exc.messages)
    try:
        loaded["signing"] = with_presentable_hours(loaded["signing"], loaded["ride_codes"], loaded["travel"])
    except ValidationError as exc:
        fail("signing", exc.messages)
    limits: dict[str, RateLimit] = {}
    limit_field = RateLimitField()
    for route_class, raw in (data.get("rate_limits") or {}).items():
        if route_class not in ROUTE_CLASSES:
            fail(
                "rate_limits",
                {route_class: [f"unknown route class; expected one of {', '.join(ROUTE_CLASSES)}"]},
            )
        try:
            limits[route_class] = limit_field.deserialize(raw)
        except ValidationError as exc:
            fail("rate_limits", {route_class: exc.messages})
    return Settings(rate_limits=limits, profile=profile, **loaded)
