-- Cross-border travel bookings (issue 4): departures materialised from the carriers'
-- timetables, seats per departure and fare class, bookings with their passengers, append-only
-- payments and refunds, and one signed ticket per passenger.

CREATE TABLE travel_departures (
    id              text PRIMARY KEY,        -- <carrier>.<route>.<yyyymmdd>.<hhmm>
    carrier         text NOT NULL,
    route           text NOT NULL,
    mode            text NOT NULL,
    origin          text NOT NULL,
    destination     text NOT NULL,
    service_date    date NOT NULL,
    departs_at      timestamptz NOT NULL,
    arrives_at      timestamptz NOT NULL,
    currency        text NOT NULL
);
CREATE INDEX travel_departures_search ON travel_departures (origin, destination, departs_at, id);
CREATE INDEX travel_departures_time ON travel_departures (departs_at);

-- Seats: held (booked, not paid yet) and sold never exceed capacity, whatever the code does.
CREATE TABLE travel_inventory (
    departure_id    text NOT NULL REFERENCES travel_departures (id) ON DELETE CASCADE,
    fare_class      text NOT NULL,
    capacity        integer NOT NULL CHECK (capacity > 0),
    held            integer NOT NULL DEFAULT 0 CHECK (held >= 0),
    sold            integer NOT NULL DEFAULT 0 CHECK (sold >= 0),
    fare_amount     integer NOT NULL CHECK (fare_amount >= 0),
    PRIMARY KEY (departure_id, fare_class),
    CHECK (held + sold <= capacity)
);

CREATE TABLE travel_bookings (
    id              text PRIMARY KEY,
    user_id         text NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    departure_id    text NOT NULL REFERENCES travel_departures (id),
    carrier         text NOT NULL,
    fare_class      text NOT NULL,
    seats           integer NOT NULL CHECK (seats > 0),
    -- held -> paying -> confirmed -> cancelled; held -> released (expired, failed, abandoned)
    status          text NOT NULL CHECK (status IN ('held', 'paying', 'confirmed', 'released', 'cancelled')),
    release_reason  text,
    total_amount    integer NOT NULL,
    currency        text NOT NULL,
    expires_at      timestamptz NOT NULL,
    carrier_reference text,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX travel_bookings_user ON travel_bookings (user_id, id);
CREATE INDEX travel_bookings_expiring ON travel_bookings (expires_at) WHERE status = 'held';
-- Payments abandoned mid-way (the process died): the recovery sweep finds them by age.
CREATE INDEX travel_bookings_paying ON travel_bookings (updated_at) WHERE status = 'paying';
-- Holds given up on before the carrier answered: the carrier may hold seats for them.
CREATE INDEX travel_bookings_carrier_hold_failed ON travel_bookings (updated_at)
    WHERE status = 'released' AND release_reason = 'carrier_hold_failed';

CREATE TABLE travel_passengers (
    booking_id      text NOT NULL REFERENCES travel_bookings (id) ON DELETE CASCADE,
    position        integer NOT NULL,
    document_id     text NOT NULL,
    document_type   text NOT NULL,
    holder_name     text NOT NULL,
    PRIMARY KEY (booking_id, position)
);

-- Money moved for a booking: never updated, never deleted. A refund names its charge.
CREATE TABLE travel_payments (
    id              text PRIMARY KEY,
    booking_id      text NOT NULL REFERENCES travel_bookings (id),
    kind            text NOT NULL CHECK (kind IN ('charge', 'refund')),
    succeeded       boolean NOT NULL,
    amount          integer NOT NULL CHECK (amount >= 0),
    currency        text NOT NULL,
    fare_amount     integer NOT NULL,        -- the same money in the carrier's currency
    fare_currency   text NOT NULL,
    fx_rate         numeric NOT NULL,
    provider        text NOT NULL,
    provider_reference text,
    failure_code    text,
    charge_id       text REFERENCES travel_payments (id),
    created_at      timestamptz NOT NULL,
    reference       text                     -- our idempotency reference at the provider
);
CREATE INDEX travel_payments_booking ON travel_payments (booking_id, created_at);
CREATE INDEX travel_payments_reference ON travel_payments (reference);
-- Refunds the provider could not be reached for: retried with backoff, a new row per attempt.
CREATE INDEX travel_payments_refund_retry ON travel_payments (created_at)
    WHERE kind = 'refund' AND NOT succeeded AND failure_code = 'provider_unreachable';

-- A charge about to be asked of the provider, written before asking: a process dying between
-- the provider's answer and its travel_payments row leaves this, and recovery re-drives the
-- same reference (the provider answers it with the first result) with the same amount.
CREATE TABLE travel_charge_intents (
    reference       text PRIMARY KEY,
    booking_id      text NOT NULL REFERENCES travel_bookings (id),
    provider        text NOT NULL,
    account         text NOT NULL,
    amount          integer NOT NULL CHECK (amount >= 0),
    currency        text NOT NULL,
    fare_amount     integer NOT NULL,
    fare_currency   text NOT NULL,
    fx_rate         numeric NOT NULL,
    created_at      timestamptz NOT NULL
);
CREATE INDEX travel_charge_intents_booking ON travel_charge_intents (booking_id);

-- Holds given up on (carrier_hold_failed) that the sweeper has since released at the carrier.
CREATE TABLE travel_carrier_releases (
    booking_id      text PRIMARY KEY REFERENCES travel_bookings (id),
    released_at     timestamptz NOT NULL
);

CREATE OR REPLACE FUNCTION travel_payments_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'travel_payments is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER travel_payments_no_update BEFORE UPDATE OR DELETE ON travel_payments
    FOR EACH ROW EXECUTE FUNCTION travel_payments_append_only();

CREATE TABLE travel_tickets (
    id              text PRIMARY KEY,
    booking_id      text NOT NULL REFERENCES travel_bookings (id),
    position        integer NOT NULL,
    departure_id    text NOT NULL REFERENCES travel_departures (id),
    carrier         text NOT NULL,
    payload         text NOT NULL,
    status          text NOT NULL CHECK (status IN ('valid', 'boarded', 'cancelled')),
    boarded_at      timestamptz,
    created_at      timestamptz NOT NULL,
    UNIQUE (booking_id, position)
);
