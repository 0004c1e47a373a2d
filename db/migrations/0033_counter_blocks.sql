-- Blocks (issue 11): a desk, or the whole centre (counter_id NULL), closed for a time. The desks'
-- ledger counts a block as an occupant nobody can move, so no booking or walk-in takes its time;
-- a block is written under the locks of the centre days it spans, like a booking. Removing one
-- keeps the row (removed_at) for the record.
CREATE TABLE counter_blocks (
    id          text PRIMARY KEY,
    centre_id   text NOT NULL,
    counter_id  text,
    starts_at   timestamptz NOT NULL,
    ends_at     timestamptz NOT NULL CHECK (ends_at > starts_at),
    reason      text NOT NULL,
    created_at  timestamptz NOT NULL,
    removed_at  timestamptz
);
CREATE INDEX counter_blocks_centre ON counter_blocks (centre_id, ends_at) WHERE removed_at IS NULL;
