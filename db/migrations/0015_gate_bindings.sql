-- Per-gate credentials (issue 15 item 13). A gate credential may be bound to one gate id, and
-- optionally to stations of its operator: its scans and uploads must name that gate (and one of
-- those stations). Unbound gate credentials serve the whole operator (tests, demos).
ALTER TABLE credentials ADD COLUMN gate_id text, ADD COLUMN stations text[];
ALTER TABLE credentials ADD CONSTRAINT credentials_binding_of_gates
    CHECK ((gate_id IS NULL AND stations IS NULL) OR (kind = 'gate' AND gate_id IS NOT NULL));

-- The newest tap each gate has delivered through a bound credential. A gate uploads oldest first,
-- so what it still holds is newer: a later upload may reach back at most
-- [ride_codes] gate_backlog_hours before it (a leaked token cannot backdate taps by days).
CREATE TABLE gate_contacts (
    operator      text NOT NULL,
    gate_id       text NOT NULL,
    newest_tap_at timestamptz NOT NULL,
    PRIMARY KEY (operator, gate_id)
);
