-- What riders are told about their appointments (issue 11): reminders, a desk closed over their
-- time, an agency refusing their booking. A notice is written in the transaction of what causes
-- it (a reminder: the same transaction that marks the appointment reminded), then sent by a job
-- with the notifier's idempotency key (`dedupe_key`), so a crash loses nothing and a repeat is
-- delivered once. A notice is never sent at or after `not_after` (a reminder: the start), and a
-- reminder of an appointment no longer booked is dropped.
CREATE TABLE appointment_notices (
    id              bigserial PRIMARY KEY,
    dedupe_key      text NOT NULL UNIQUE,
    kind            text NOT NULL CHECK (kind IN ('reminder', 'desk_closed', 'agency_refused')),
    notifier        text NOT NULL,          -- the notifier adapter's instance id
    appointment_id  text NOT NULL REFERENCES appointments (id),
    notification    jsonb NOT NULL,         -- recipient, channel, language, subject, body
    not_after       timestamptz,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    sent_at         timestamptz,
    message_id      text,
    dropped_at      timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL
);
CREATE INDEX appointment_notices_due ON appointment_notices (next_attempt_at)
    WHERE sent_at IS NULL AND dropped_at IS NULL;
CREATE INDEX appointment_notices_appointment ON appointment_notices (appointment_id);
