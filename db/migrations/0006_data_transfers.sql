-- Records of personal data sent to a recipient in another jurisdiction (a carrier, an agency).
-- Kept at least three years (GBA Standard Contract; PIPL art. 39 consents), then purged by
-- retain_until. One row per data subject (passenger, applicant) and recipient per occasion.

CREATE TABLE data_transfers (
    id              text PRIMARY KEY,
    user_id         text NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    subject         text NOT NULL,           -- whose data: the document id it came from
    subject_name    text NOT NULL,           -- the holder's name as shown to the rider
    origin          text NOT NULL CHECK (origin IN ('CN', 'HK', 'MO', 'XX')),
    destination     text NOT NULL CHECK (destination IN ('CN', 'HK', 'MO')),
    recipient       text NOT NULL,           -- adapter id of the carrier or agency
    recipient_name  text NOT NULL,
    purpose         text NOT NULL,
    fields          text[] NOT NULL,
    legal_basis     text NOT NULL,
    consent_id      text REFERENCES consents (id),
    reference       text NOT NULL,           -- the booking or appointment it served
    transferred_at  timestamptz NOT NULL,
    retain_until    timestamptz NOT NULL,
    UNIQUE (reference, subject, recipient)
);
CREATE INDEX data_transfers_user ON data_transfers (user_id, id);
CREATE INDEX data_transfers_retention ON data_transfers (retain_until);
