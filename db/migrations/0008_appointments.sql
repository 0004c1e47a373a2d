-- Counter appointments at government service centres (issue 5).
--
-- Capacity: one row per slot that has ever been booked, with a counter updated by a conditional
-- upsert (`booked < capacity`), which takes the row lock and so serialises bookers of one slot.
-- Backstop: an active appointment holds a seat number in 1..capacity, unique per slot, so even a
-- code path that skipped the counter could not seat two people in one place.
-- Change feed: every change to a centre's appointments takes the next number from that centre's
-- row in appointment_centre_changes under its row lock, so numbers commit in order per centre and a
-- counter's `since` cursor never skips a change that commits late.

CREATE TABLE appointment_slots (
    centre_id   text NOT NULL,
    service_id  text NOT NULL,
    starts_at   timestamptz NOT NULL,
    capacity    integer NOT NULL CHECK (capacity >= 0),
    booked      integer NOT NULL CHECK (booked >= 0),
    PRIMARY KEY (centre_id, service_id, starts_at)
);

CREATE TABLE appointment_centre_changes (
    centre_id   text PRIMARY KEY,
    seq         bigint NOT NULL
);

CREATE TABLE appointment_queue_numbers (
    centre_id   text NOT NULL,
    local_date  date NOT NULL,
    last_number integer NOT NULL,
    PRIMARY KEY (centre_id, local_date)
);

CREATE TABLE appointments (
    id              text PRIMARY KEY,
    reference       text NOT NULL UNIQUE,
    user_id         text NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    agency_id       text NOT NULL,
    centre_id       text NOT NULL,
    service_id      text NOT NULL,
    starts_at       timestamptz NOT NULL,
    ends_at         timestamptz NOT NULL,
    local_date      date NOT NULL,          -- the centre's calendar day of starts_at
    seat            integer NOT NULL CHECK (seat >= 1),
    status          text NOT NULL CHECK (status IN
                        ('booked', 'checked_in', 'called', 'served', 'no_show', 'cancelled', 'rescheduled')),
    document_id     text,
    holder_name     text NOT NULL,
    number_masked   text,                   -- what the counter may see; never the clear number
    qr_version      integer NOT NULL DEFAULT 1,
    rescheduled_from text REFERENCES appointments (id),
    rescheduled_to  text REFERENCES appointments (id),
    queue_number    integer,
    checked_in_at   timestamptz,
    call_count      integer NOT NULL DEFAULT 0,
    called_at       timestamptz,
    called_by       text,                   -- the counter (desk) that called
    finished_at     timestamptz,
    remind_at       timestamptz,
    reminded_at     timestamptz,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    change_seq      bigint NOT NULL
);
CREATE UNIQUE INDEX appointments_active_seat ON appointments (centre_id, service_id, starts_at, seat)
    WHERE status IN ('booked', 'checked_in', 'called');
CREATE UNIQUE INDEX appointments_queue_number ON appointments (centre_id, local_date, queue_number)
    WHERE queue_number IS NOT NULL;
CREATE INDEX appointments_user ON appointments (user_id, id);
CREATE INDEX appointments_centre_day ON appointments (centre_id, local_date, change_seq);
CREATE INDEX appointments_rider_active ON appointments (user_id, service_id)
    WHERE status IN ('booked', 'checked_in', 'called');
CREATE INDEX appointments_queue ON appointments (centre_id, local_date, queue_number)
    WHERE status = 'checked_in';
CREATE INDEX appointments_reminders_due ON appointments (remind_at)
    WHERE reminded_at IS NULL AND status = 'booked';

-- Bookings, reschedules and cancellations for agencies whose own system must hear of them,
-- written in the transaction of the change and pushed by a background job with retries.
CREATE TABLE agency_outbox (
    id              bigserial PRIMARY KEY,
    agency_id       text NOT NULL,
    appointment_id  text NOT NULL REFERENCES appointments (id),
    event           text NOT NULL CHECK (event IN ('booked', 'cancelled')),
    event_key       text NOT NULL UNIQUE,   -- the agency's idempotency key
    payload         jsonb NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    sent_at         timestamptz,
    failed_at       timestamptz,
    agency_reference text,
    last_error      text,
    created_at      timestamptz NOT NULL
);
CREATE INDEX agency_outbox_due ON agency_outbox (next_attempt_at)
    WHERE sent_at IS NULL AND failed_at IS NULL;
