-- Declined ride charges are debts, not bans (issue 15 item 8). A journey whose charge the
-- rider's wallet declined becomes a debt: retried automatically with backoff (3 tries over 3
-- days, `next_retry_at`), payable at once by the rider (POST /v1/me/debts/{id}/payment). The
-- account is on the deny list while a debt is unpaid; paying the last one removes it.
-- status: unpaid -> paying (a charge under way, `claimed_at`) -> paid | unpaid again.
CREATE TABLE ride_debts (
    id                 text PRIMARY KEY,
    journey_id         text NOT NULL UNIQUE REFERENCES journeys (id),
    user_id            text NOT NULL REFERENCES users (id),
    operator           text NOT NULL,
    amount             integer NOT NULL CHECK (amount >= 0),
    currency           text NOT NULL,
    status             text NOT NULL DEFAULT 'unpaid' CHECK (status IN ('unpaid', 'paying', 'paid')),
    tries              integer NOT NULL DEFAULT 1,  -- charges asked so far (the declined one is 1)
    retries_left       integer NOT NULL DEFAULT 3,  -- automatic retries still to come
    next_retry_at      timestamptz,                 -- NULL: none left; the rider pays
    claimed_at         timestamptz,
    provider_reference text,
    incurred_at        timestamptz NOT NULL,
    paid_at            timestamptz,
    created_at         timestamptz NOT NULL
);
CREATE INDEX ride_debts_user ON ride_debts (user_id, id DESC);
CREATE INDEX ride_debts_due ON ride_debts (next_retry_at) WHERE status = 'unpaid' AND next_retry_at IS NOT NULL;

-- Charges declined before this: debts the rider pays (no automatic retry).
INSERT INTO ride_debts (id, journey_id, user_id, operator, amount, currency, retries_left,
                        incurred_at, created_at)
SELECT 'dbt_' || substr(id, 5), id, user_id, operator, coalesce(charge_amount, fare_amount),
       coalesce(charge_currency, fare_currency), 0, coalesce(exit_at, entry_at), updated_at
FROM journeys WHERE charge_status = 'failed' AND fare_amount IS NOT NULL;
