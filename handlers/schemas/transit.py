"""Ride codes, device credentials, gate keys and deny list, scans, journeys."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from bayaffairs.handlers.schemas.common import (
    BoundedAwareDateTime,
    BoundedDate,
    MoneySchema,
    StrictSchema,
    page_of,
)
from bayaffairs.pages import MAX_LIMIT
from bayaffairs.transit.uploads import MAX_BATCH_TAPS, TAP_FLAGS

ID = validate.Length(1, 64)
TAP_ID = r"^[A-Za-z0-9._:-]{1,64}$"  # a gate's own id of a tap


class RideCodeIn(StrictSchema):
    city = fields.String(required=True, validate=ID, metadata={"description": "a city id from /v1/regions"})
    riders = fields.Integer(
        load_default=1,
        strict=True,
        validate=validate.Range(1, 3),
        metadata={
            "description": "2-3: a multi-rider code (one scan, one fare per rider; tap-in-only operators)"
        },
    )


class RideCodeOut(Schema):
    code_id = fields.String(required=True)
    payload = fields.String(required=True, metadata={"description": "what the QR encodes (Base45 text)"})
    city = fields.String(required=True)
    issued_at = fields.AwareDateTime(required=True)
    expires_at = fields.AwareDateTime(required=True)
    refresh_after = fields.AwareDateTime(required=True)
    png_url = fields.String(required=True)
    svg_url = fields.String(required=True)


class RideCredentialIn(StrictSchema):
    device_public_key = fields.String(
        required=True,
        validate=validate.Length(40, 200),
        metadata={"description": "the app's P-256 public key, X9.62 point (compressed or not), base64"},
    )
    algorithm = fields.String(required=True, validate=validate.OneOf(["ES256"]))
    city = fields.String(validate=ID, metadata={"description": "limit the credential to one city"})


class RideCredentialOut(Schema):
    credential_id = fields.String(required=True)
    credential = fields.String(
        required=True, metadata={"description": "base64 of the 126 issuer-signed bytes each code starts with"}
    )
    key_id = fields.String(required=True)
    algorithm = fields.String(required=True)
    scope = fields.Integer(required=True)
    valid_from = fields.AwareDateTime(required=True)
    valid_until = fields.AwareDateTime(required=True)
    code_seconds = fields.Integer(
        required=True, metadata={"description": "how long each code the app makes is good for"}
    )


class GateKeySchema(Schema):
    kid = fields.String(required=True)
    key_number = fields.Integer(required=True)
    algorithm = fields.String(required=True)
    public_key = fields.String(required=True, metadata={"description": "base64, X9.62 uncompressed point"})
    valid_from = fields.AwareDateTime(required=True)
    not_before = fields.AwareDateTime(
        required=True,
        metadata={"description": "the key signs from then: codes it signed earlier are not trusted"},
    )
    valid_until = fields.AwareDateTime(
        allow_none=True,
        required=True,
        metadata={"description": "published and verifying until then (null: no successor yet)"},
    )
    signing = fields.Boolean(required=True)


class CodePolicySchema(Schema):
    code_seconds = fields.Integer(required=True)
    skew_seconds = fields.Integer(required=True)
    scope = fields.Integer(required=True, metadata={"description": "the gate's city scope code"})
    scopes = fields.List(
        fields.Integer(),
        required=True,
        metadata={
            "description": "every city scope code the gate accepts: its own, and the cities a "
            "through-fare rule joins its operator's network with (a code of scope 0 is good everywhere)"
        },
    )


class GateRulesSchema(Schema):
    """The operator's rules a gate decides by while offline."""

    operator = fields.String(required=True)
    tap_out = fields.Boolean(required=True, metadata={"description": "riders tap out (metro) or only in"})
    max_journey_minutes = fields.Integer(
        required=True, metadata={"description": "a rider who entered longer ago is no longer inside"}
    )
    tap_out_without_tap_in = fields.String(
        required=True,
        validate=validate.OneOf(["deny", "max_fare"]),
        metadata={"description": "deny: a second exit is refused; max_fare: let through, charged the rule"},
    )
    max_stale_hours = fields.Integer(
        required=True,
        metadata={"description": "how long a gate may decide on the keys and deny list it last synced"},
    )
    stale_policy = fields.String(
        required=True,
        validate=validate.OneOf(["deny", "flag"]),
        metadata={"description": "past max_stale_hours: deny everyone, or open and flag the taps"},
    )


class GateKeysOut(Schema):
    keys = fields.List(fields.Nested(GateKeySchema), required=True)
    policy = fields.Nested(CodePolicySchema, required=True)
    rules = fields.Nested(GateRulesSchema, required=True)


class DenyListQuery(StrictSchema):
    since = fields.Integer(load_default=0, validate=validate.Range(min=0, max=2**63 - 1))
    limit = fields.Integer(load_default=5000, validate=validate.Range(1, 5000))
    snapshot = fields.Boolean(
        load_default=False,
        metadata={"description": "true: the current entries and the cursor to continue with deltas"},
    )
    page = fields.String(
        load_default=None,
        validate=validate.Length(1, 120),
        metadata={"description": "a snapshot's next_page, for its following entries"},
    )


class DenyChangeSchema(Schema):
    seq = fields.Integer(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(["account", "credential", "key"]))
    value = fields.String(required=True)
    action = fields.String(required=True, validate=validate.OneOf(["add", "remove"]))
    at = fields.AwareDateTime(required=True)


class DenyListOut(Schema):
    changes = fields.List(fields.Nested(DenyChangeSchema), required=True)
    next_cursor = fields.Integer(required=True)
    complete = fields.Boolean(required=True, metadata={"description": "false: call again with next_cursor"})


class DenyEntrySchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(["account", "credential", "key"]))
    value = fields.String(required=True)
    at = fields.AwareDateTime(required=True, metadata={"description": "on the list since"})


class DenySnapshotOut(Schema):
    entries = fields.List(fields.Nested(DenyEntrySchema), required=True)
    next_cursor = fields.Integer(
        required=True, metadata={"description": "the list's state these entries are; ask since= it next"}
    )
    complete = fields.Boolean(required=True, metadata={"description": "false: ask again with page=next_page"})
    next_page = fields.String(allow_none=True, required=True)


class ScanIn(StrictSchema):
    payload = fields.Raw(
        required=True,
        allow_none=True,
        metadata={"description": "the scanned QR text; anything wrong is a deny"},
    )
    gate_id = fields.String(required=True, validate=ID)
    station = fields.String(required=True, validate=ID)
    direction = fields.String(required=True, validate=validate.OneOf(["in", "out"]))
    scanned_at = BoundedAwareDateTime(required=True)
    tap_id = fields.String(
        validate=validate.Regexp(TAP_ID),
        metadata={
            "description": "the gate's own id of this tap, unique per gate: a retry with it gets the first "
            "decision again; the same tap_id with another payload is 409 tap_id_reused"
        },
    )


class ScanOut(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(["open", "deny"]))
    reason = fields.String(allow_none=True, required=True)
    journey_id = fields.String(allow_none=True, required=True)
    fare = fields.Nested(
        MoneySchema, allow_none=True, required=True, metadata={"description": "operator currency"}
    )
    charge = fields.Nested(MoneySchema, allow_none=True, metadata={"description": "rider's wallet currency"})


class JourneyDiscount(Schema):
    product = fields.String(required=True)
    name = fields.String(
        required=True, metadata={"description": "the fare product's, in the request's language"}
    )
    amount = fields.Integer(required=True)


class JourneyRefundOut(Schema):
    id = fields.String(required=True)
    amount = fields.Nested(MoneySchema, required=True, metadata={"description": "in the charge's currency"})
    fare = fields.Nested(
        MoneySchema, required=True, metadata={"description": "the same in the fare's currency"}
    )
    reason = fields.String(
        required=True, validate=validate.OneOf(["late tap-out", "repair", "transfer discount"])
    )
    status = fields.String(
        required=True, validate=validate.OneOf(["pending", "refunding", "refunded", "failed", "void"])
    )
    created_at = fields.AwareDateTime(required=True)


class JourneyOut(Schema):
    id = fields.String(required=True)
    operator = fields.String(required=True)
    status = fields.String(
        required=True, validate=validate.OneOf(["open", "completed", "unfinished", "repaired"])
    )
    category = fields.String(required=True)
    entry_station = fields.String(allow_none=True)
    entry_at = fields.AwareDateTime(allow_none=True)
    exit_station = fields.String(allow_none=True)
    exit_at = fields.AwareDateTime(allow_none=True)
    fare = fields.Nested(MoneySchema, allow_none=True)
    charge = fields.Nested(MoneySchema, allow_none=True)
    fx_rate = fields.String(allow_none=True, metadata={"description": "fare currency to charge currency"})
    fx_source = fields.String(allow_none=True)
    fare_rule = fields.String(allow_none=True)
    charge_status = fields.String(required=True)
    base_fare = fields.Nested(
        MoneySchema,
        allow_none=True,
        metadata={"description": "the full fare: base_fare - concession - discounts = fare"},
    )
    concession = fields.Nested(
        MoneySchema,
        allow_none=True,
        metadata={"description": "what the rider's category took off the full fare"},
    )
    discounts = fields.List(
        fields.Nested(JourneyDiscount),
        metadata={
            "description": "taken off after the concession, in the fare's currency: transfer "
            "discounts (product: the transfer's name), then fare products"
        },
    )
    repair_status = fields.String(
        allow_none=True,
        validate=validate.OneOf(["applied", "pending", "approved", "refused"]),
        metadata={"description": "its repair: pending while the operator reviews it (maximum fare stands)"},
    )
    refunds = fields.List(
        fields.Nested(JourneyRefundOut),
        required=True,
        metadata={"description": "what comes back of the charge (a late tap-out, a repair), one line each"},
    )


JourneyPage = page_of(JourneyOut, "JourneyPage")


class NextTier(Schema):
    above = fields.Nested(MoneySchema, required=True)
    percent = fields.Integer(required=True)


class FareProductOut(Schema):
    product = fields.String(required=True)
    kind = fields.String(
        required=True, validate=validate.OneOf(["monthly_spend_discount", "monthly_subsidy"])
    )
    name = fields.String(required=True)
    month = fields.String(required=True, metadata={"description": "YYYY-MM, the product's calendar"})
    journeys = fields.Integer(required=True)
    spent = fields.Nested(MoneySchema, required=True)
    discount = fields.Nested(MoneySchema, allow_none=True, required=True)
    credit = fields.Nested(MoneySchema, allow_none=True, required=True)
    cap = fields.Nested(MoneySchema, allow_none=True, required=True)
    next_tier = fields.Nested(NextTier, allow_none=True, required=True)


class FareProductList(Schema):
    items = fields.List(fields.Nested(FareProductOut), required=True)


class JourneyQuery(StrictSchema):
    limit = fields.Integer(load_default=50, validate=validate.Range(1, MAX_LIMIT))
    cursor = fields.String(load_default=None, validate=validate.Length(1, 64))


class RepairIn(StrictSchema):
    exit_station = fields.String(required=True, validate=ID)


class RepairOut(Schema):
    id = fields.String(required=True)
    journey_id = fields.String(required=True)
    operator = fields.String(required=True)
    exit_station = fields.String(required=True, metadata={"description": "where the rider says they left"})
    status = fields.String(
        required=True,
        validate=validate.OneOf(["applied", "pending", "approved", "refused", "superseded"]),
        metadata={"description": "applied: within the monthly allowance; superseded: completed by a tap-out"},
    )
    created_at = fields.AwareDateTime(required=True)
    decided_at = fields.AwareDateTime(allow_none=True, required=True)
    entry_station = fields.String(allow_none=True)
    entry_at = fields.AwareDateTime(allow_none=True)
    fare = fields.Nested(MoneySchema, allow_none=True, metadata={"description": "the journey's fare now"})


class RepairPending(Schema):
    status = fields.String(required=True, validate=validate.OneOf(["pending_review"]))
    repair_id = fields.String(required=True)
    journey_id = fields.String(required=True)


RepairList = page_of(RepairOut, "RepairList")


class RepairQuery(StrictSchema):
    status = fields.String(
        load_default=None,
        validate=validate.OneOf(["applied", "pending", "approved", "refused", "superseded"]),
    )
    limit = fields.Integer(load_default=50, validate=validate.Range(1, MAX_LIMIT))
    cursor = fields.String(load_default=None, validate=validate.Length(1, 64))


class DebtOut(Schema):
    id = fields.String(required=True)
    journey_id = fields.String(required=True)
    operator = fields.String(required=True)
    amount = fields.Nested(
        MoneySchema, required=True, metadata={"description": "in the rider's wallet currency"}
    )
    status = fields.String(
        required=True,
        validate=validate.OneOf(["unpaid", "paying", "paid"]),
        metadata={"description": "the account is denied while any debt is not paid"},
    )
    tries = fields.Integer(required=True, metadata={"description": "charges asked so far"})
    next_retry_at = fields.AwareDateTime(
        allow_none=True, required=True, metadata={"description": "the next automatic try (null: none left)"}
    )
    incurred_at = fields.AwareDateTime(required=True)
    paid_at = fields.AwareDateTime(allow_none=True, required=True)
    pay = fields.String(required=True, metadata={"description": "where to pay it"})


class DebtList(Schema):
    items = fields.List(fields.Nested(DebtOut), required=True)


class RepairDecisionIn(StrictSchema):
    decision = fields.String(required=True, validate=validate.OneOf(["approve", "refuse"]))


class OfflineTapIn(StrictSchema):
    tap_id = fields.String(required=True, validate=validate.Regexp(TAP_ID))
    payload = fields.String(required=True, validate=validate.Length(max=1000))
    gate_id = fields.String(required=True, validate=ID)
    station = fields.String(required=True, validate=ID)
    direction = fields.String(required=True, validate=validate.OneOf(["in", "out"]))
    scanned_at = BoundedAwareDateTime(required=True)
    flags = fields.List(
        fields.String(validate=validate.OneOf(TAP_FLAGS)),
        validate=validate.Length(max=len(TAP_FLAGS)),
        metadata={"description": "stale: the gate validated it past its operator's max_stale_hours"},
    )


class FlaggedTapOut(Schema):
    tap_id = fields.String(required=True)
    gate_id = fields.String(required=True)
    station = fields.String(required=True)
    direction = fields.String(required=True)
    scanned_at = fields.AwareDateTime(required=True)
    received_at = fields.AwareDateTime(required=True)
    flags = fields.List(fields.String(), required=True)
    state = fields.String(
        required=True, metadata={"description": "pending, recorded (a journey) or refused (with a reason)"}
    )
    reason = fields.String(allow_none=True, required=True)
    journey_id = fields.String(allow_none=True, required=True)


FlaggedTapList = page_of(FlaggedTapOut, "FlaggedTapList")


class TapBatchIn(StrictSchema):
    taps = fields.List(
        fields.Raw(),
        required=True,
        validate=validate.Length(1, MAX_BATCH_TAPS),
        metadata={"description": f"1 to {MAX_BATCH_TAPS} taps (and within the server's body limit)"},
    )


class RejectedTap(Schema):
    index = fields.Integer(required=True)
    reason = fields.String(required=True)


class TapBatchOut(Schema):
    accepted = fields.Integer(required=True)
    duplicates = fields.Integer(required=True)
    rejected = fields.List(fields.Nested(RejectedTap), required=True)


class SettlementQuery(StrictSchema):
    date = BoundedDate(
        required=True,
        metadata={"description": "the operator's local day, YYYY-MM-DD"},
    )
    limit = fields.Integer(
        load_default=None, validate=validate.Range(1, 10000), metadata={"description": "lines per page"}
    )
    cursor = fields.String(load_default=None, validate=validate.Length(1, 400))


class SettlementDay(StrictSchema):
    date = BoundedDate(required=True)


class Discount(Schema):
    product = fields.String(required=True)
    amount = fields.Integer(required=True)


class SettlementLine(Schema):
    kind = fields.String(
        required=True,
        metadata={
            "description": "journey; credit (a rider month's subsidy credit, among the adjustments); "
            "for adjustments: reversal (what was settled, negated) or restatement"
        },
    )
    journey_id = fields.String(
        required=True, metadata={"description": "the journey, or a credit's rider month reference (crd_...)"}
    )
    original_date = fields.Date(
        required=True,
        metadata={"description": "the day the journey belongs to; a credit's: the first day of its month"},
    )
    status = fields.String(required=True)
    category = fields.String(required=True)
    entry_station = fields.String(allow_none=True)
    entry_at = fields.AwareDateTime(allow_none=True)
    exit_station = fields.String(allow_none=True)
    exit_at = fields.AwareDateTime(allow_none=True)
    base_fare = fields.Integer(required=True, metadata={"description": "minor units of `currency`"})
    concession = fields.Integer(required=True)
    discounts = fields.List(fields.Nested(Discount), required=True)
    fare = fields.Integer(required=True)
    share = fields.Integer(required=True, metadata={"description": "this operator's part of the fare"})
    currency = fields.String(required=True)
    charge_status = fields.String(required=True, validate=validate.OneOf(["charged", "failed", "pending"]))
    rider_amount = fields.Nested(
        MoneySchema, allow_none=True, metadata={"description": "in the rider's currency"}
    )
    fx_rate = fields.String(allow_none=True)


class FareTotal(Schema):
    currency = fields.String(required=True)
    charge_status = fields.String(required=True)
    lines = fields.Integer(required=True)
    base_fare = fields.Integer(required=True)
    concession = fields.Integer(required=True)
    fare = fields.Integer(required=True)
    share = fields.Integer(required=True)


class RiderTotal(Schema):
    currency = fields.String(required=True)
    charge_status = fields.String(required=True)
    lines = fields.Integer(required=True)
    amount = fields.Integer(required=True)


class SettlementTotals(Schema):
    fare = fields.List(fields.Nested(FareTotal), required=True)
    rider = fields.List(fields.Nested(RiderTotal), required=True)


class SettlementOut(Schema):
    operator = fields.String(required=True)
    date = fields.Date(required=True)
    currency = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["open", "closed"]))
    closes_at = fields.AwareDateTime(required=True)
    closed_at = fields.AwareDateTime(allow_none=True, required=True)
    checksum = fields.String(
        allow_none=True, required=True, metadata={"description": "SHA-256 of the CSV, hex"}
    )
    lines = fields.List(fields.Nested(SettlementLine), required=True)
    adjustments = fields.List(fields.Nested(SettlementLine), required=True)
    totals = fields.Nested(SettlementTotals, required=True)
    next_cursor = fields.String(allow_none=True, required=True)
