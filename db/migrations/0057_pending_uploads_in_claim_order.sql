-- The drain's claim reads a slot's uploads in exactly its order (issue 15, throughput). The
-- claim orders by (scanned_at, operator, tap_id) but tap_uploads_pending and
-- tap_uploads_waiting_since (0051) held (slot, scanned_at) only, so an ordered read needed a
-- sort on top, and on stale statistics (autovacuum off or behind: a backlog filled since the
-- last ANALYZE looks like a few rows) the planner read the whole slot, from either pending index,
-- and sorted it: 25,000 rows and 0.17-0.7 s a claim of 500, on 400,000 pending and 1M dead
-- uploads never analyzed, against 500 rows and ~2 ms read in order. Both indexes now hold the
-- claim's whole order, and the claim (db/functions/claim_pending_uploads.sql) is planned with
-- sorts disabled, so only these can serve it. take_slot's checks read their leading columns
-- as before.
DROP INDEX tap_uploads_pending;
CREATE INDEX tap_uploads_pending ON tap_uploads (slot, scanned_at, operator, tap_id)
WHERE state = 'pending';
DROP INDEX tap_uploads_waiting_since;
CREATE INDEX tap_uploads_waiting_since ON tap_uploads (slot, scanned_at, operator, tap_id)
WHERE state = 'waiting';
