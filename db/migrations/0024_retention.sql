-- Retention that runs (issue 16 item 3): a periodic job anonymises, unlinks and deletes records
-- past their time per [privacy.retention] (bayaffairs/privacy/retention.py).

-- travel_payments stays append-only, except for retention deleting books of account past their
-- seven years, which it says for its own transaction (SET LOCAL bayaffairs.retention = 'on').
CREATE OR REPLACE FUNCTION travel_payments_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('bayaffairs.retention', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'travel_payments is append-only';
END;
$$ LANGUAGE plpgsql;

-- What retention looks records up by.
CREATE INDEX documents_expires ON documents (expires);
CREATE INDEX journeys_ended ON journeys ((coalesce(exit_at, entry_at))) WHERE status <> 'open';
CREATE INDEX appointments_starts ON appointments (starts_at);
