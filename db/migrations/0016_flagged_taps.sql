-- Taps a gate validated while stale (issue 15 item 14): past its operator's max_stale_hours an
-- offline gate under the "flag" policy still opens, and flags the tap for the operator's review.
ALTER TABLE tap_uploads ADD COLUMN flags text[] NOT NULL DEFAULT '{}';
CREATE INDEX tap_uploads_flagged ON tap_uploads (operator, tap_id) WHERE flags <> '{}';
