-- Cross-border travel, second pass (issue 10), money: charges whose outcome is unknown, and
-- refunds owed through an outbox (docs/travel.md, "Payments" and "Refunds").

-- A charge the provider timed out on or answered 5xx for is recorded `unknown` (not failed: it
-- may have gone through); the sweeper settles it with the provider by its reference and appends
-- the row that says what happened. `succeeded` stays, as `outcome = 'succeeded'`.
ALTER TABLE travel_payments ADD COLUMN outcome text;
ALTER TABLE travel_payments DISABLE TRIGGER travel_payments_no_update;
UPDATE travel_payments SET outcome = CASE WHEN succeeded THEN 'succeeded' ELSE 'failed' END;
ALTER TABLE travel_payments ENABLE TRIGGER travel_payments_no_update;
ALTER TABLE travel_payments ALTER COLUMN outcome SET NOT NULL;
ALTER TABLE travel_payments ADD CONSTRAINT travel_payments_outcome
    CHECK (outcome IN ('succeeded', 'failed', 'unknown') AND succeeded = (outcome = 'succeeded'));

-- A charge intent is settled once a succeeded or failed row answers its reference; until then
-- it is unknown and the sweeper keeps asking the provider.
ALTER TABLE travel_charge_intents ADD COLUMN settled_at timestamptz;
CREATE INDEX travel_charge_intents_unsettled ON travel_charge_intents (created_at) WHERE settled_at IS NULL;

-- Every refund owed, written in the transaction that decides it (a cancellation, a refused
-- confirmation, a charge found after its booking was given up): the outbox. The sweeper (and
-- the request that wrote it, at once) cancels at the carrier first when `carrier_cancel`, then
-- asks the provider, under the refund's id as the provider's idempotency reference, retrying
-- with backoff; a refund still failing after `refund_retry_attempts`, or refused, is `stuck`
-- (GET /v1/admin/refunds?status=stuck). `superseded`: the rider took a move instead.
CREATE TABLE travel_refunds (
    id              text PRIMARY KEY,
    booking_id      text NOT NULL REFERENCES travel_bookings (id),
    charge_id       text NOT NULL REFERENCES travel_payments (id),
    reason          text NOT NULL,
    amount          integer NOT NULL CHECK (amount >= 0),
    currency        text NOT NULL,
    fare_amount     integer NOT NULL CHECK (fare_amount >= 0),  -- the same money in the carrier's currency
    fare_currency   text NOT NULL,
    passengers      integer[],                       -- positions cancelled at the carrier; NULL: all
    carrier_cancel  boolean NOT NULL,
    carrier_done_at timestamptz,
    status          text NOT NULL CHECK (status IN ('pending', 'done', 'stuck', 'superseded')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    leased_until    timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL,
    done_at         timestamptz
);
CREATE INDEX travel_refunds_due ON travel_refunds (next_attempt_at) WHERE status = 'pending';
CREATE INDEX travel_refunds_booking ON travel_refunds (booking_id, created_at);
CREATE INDEX travel_refunds_status ON travel_refunds (status, created_at, id);

-- Never more owed back than a charge took, whatever code runs.
CREATE OR REPLACE FUNCTION travel_refunds_within_charge() RETURNS trigger AS $$
BEGIN
    IF (SELECT coalesce(sum(amount), 0) FROM travel_refunds
        WHERE charge_id = NEW.charge_id AND status <> 'superseded')
       > (SELECT amount FROM travel_payments WHERE id = NEW.charge_id) THEN
        RAISE EXCEPTION 'refunds of charge % exceed it', NEW.charge_id;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE CONSTRAINT TRIGGER travel_refunds_within_charge AFTER INSERT OR UPDATE ON travel_refunds
    DEFERRABLE INITIALLY IMMEDIATE FOR EACH ROW EXECUTE FUNCTION travel_refunds_within_charge();

-- The old retry scan of failed refund rows: the outbox replaces it.
DROP INDEX travel_payments_refund_retry;
