-- The hall display of a service centre (issue 11): a `display` credential per centre that reads
-- GET /v1/counter/display and nothing else, and an index for the numbers called recently.
ALTER TABLE credentials DROP CONSTRAINT credentials_kind_check;
ALTER TABLE credentials ADD CONSTRAINT credentials_kind_check
    CHECK (kind IN ('rider', 'gate', 'operator', 'carrier', 'counter', 'display', 'admin'));

CREATE INDEX appointments_called ON appointments (centre_id, local_date, called_at DESC)
    WHERE called_at IS NOT NULL;
