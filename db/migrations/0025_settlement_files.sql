-- Settlement files that never change once closed (issue 9, section 3).
--
-- A closed day is its lines, numbered in file order, and one row with when it closed, its totals
-- and the checksum of its CSV. Whatever reaches a journey after the close of its day becomes
-- adjustment lines of a later day: the reversal of what was settled and the journey as it is now.

CREATE TABLE settlement_days (
    operator     text NOT NULL,
    day          date NOT NULL,            -- the operator's local calendar day
    currency     text NOT NULL,
    closed_at    timestamptz NOT NULL,     -- the service's clock
    closed_db_at timestamptz NOT NULL DEFAULT now(),  -- the database's: the next close looks
                                           -- for journeys changed since (updated_at is now()'s too)
    checksum     text NOT NULL,            -- sha256 of the CSV, hex
    lines        integer NOT NULL,
    adjustments  integer NOT NULL,
    totals       jsonb NOT NULL,
    PRIMARY KEY (operator, day)
);

CREATE TABLE settlement_lines (
    operator        text NOT NULL,
    day             date NOT NULL,
    seq             integer NOT NULL,      -- position in the file
    kind            text NOT NULL CHECK (kind IN ('journey', 'reversal', 'restatement')),
    journey_id      text NOT NULL,
    original_date   date NOT NULL,         -- the day the journey belongs to
    status          text NOT NULL,
    category        text NOT NULL,
    entry_station   text,
    entry_at        timestamptz,
    exit_station    text,
    exit_at         timestamptz,
    base_fare       integer NOT NULL,      -- amounts in `currency`, minor units; a reversal's negated
    concession      integer NOT NULL,
    discounts       jsonb NOT NULL,        -- [[product, amount], ...]
    fare            integer NOT NULL,
    share           integer NOT NULL,      -- this operator's part of the fare
    currency        text NOT NULL,
    charge_status   text NOT NULL CHECK (charge_status IN ('charged', 'failed', 'pending')),
    rider_amount    integer,               -- what the rider is charged, in the wallet currency
    rider_currency  text,
    fx_rate         numeric(20, 10),
    PRIMARY KEY (operator, day, seq),
    FOREIGN KEY (operator, day) REFERENCES settlement_days (operator, day) DEFERRABLE INITIALLY DEFERRED
);
-- The last settled state of a journey, which a change is compared with.
CREATE INDEX settlement_lines_journey ON settlement_lines (journey_id, operator, day DESC, seq DESC);

-- Journeys changed since a close. updated_at is the database's now(); the trigger keeps it moving
-- for any statement that changes a journey without saying so (one that sets it keeps its value).
CREATE INDEX journeys_changed ON journeys (operator, updated_at);

CREATE FUNCTION journeys_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END $$;

CREATE TRIGGER journeys_touch BEFORE UPDATE ON journeys
    FOR EACH ROW WHEN (NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at)
    EXECUTE FUNCTION journeys_touch();
