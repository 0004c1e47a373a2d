-- Taps that gates validated offline and upload later. Stored first (COPY, idempotent per
-- tap id), then verified and paired into journeys by a background job, so an upload is fast
-- and a re-upload after a lost answer changes nothing.

CREATE TABLE tap_uploads (
    operator    text NOT NULL,
    tap_id      text NOT NULL,   -- the gate's id, unique within its operator
    gate_id     text NOT NULL,
    station     text NOT NULL,
    direction   text NOT NULL CHECK (direction IN ('in', 'out')),
    payload     text NOT NULL,
    scanned_at  timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    state       text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'recorded', 'refused')),
    reason      text,            -- why a refused tap was refused (for the operator's review)
    journey_id  text,
    processed_at timestamptz,
    PRIMARY KEY (operator, tap_id)
);
CREATE INDEX tap_uploads_pending ON tap_uploads (scanned_at) WHERE state = 'pending';
CREATE INDEX tap_uploads_refused ON tap_uploads (operator, received_at) WHERE state = 'refused';
