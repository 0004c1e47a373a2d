-- claim_pending_uploads(batch, settle_seconds, window_closed_before, slot): the drain's claim of
-- one slot's uploads (bayaffairs/db/queries/tap_uploads.py claim_pending says what it claims),
-- locked FOR UPDATE SKIP LOCKED, at most `batch` rows in scan order. A repeatable function file
-- (db/migrate.py): change it here, in place.
--
-- A function for its settings, which hold for its statement only. Each state is read in the
-- order of its own partial index, which holds the claim's whole order (0057), so a claim reads
-- about `batch` rows however many are pending; but a sort costs the planner nothing on the few
-- rows stale statistics promise (autovacuum off or behind, a backlog filled since the last
-- ANALYZE), and it then read the whole slot, through either pending index, and sorted it:
-- 25,000 rows and 0.17-0.7 s a claim of 500, at 400,000 pending and 1M dead uploads never
-- analyzed (tests/transit/test_claim_plan.py). With sorts disabled only the ordered index scans
-- are left for the two states; the final sort of at most 2 x `batch` rows, which nothing else
-- can do, stays. jit off: the cost disabled sorts carry would set off JIT compilation (0.6 s a
-- call). PL/pgSQL keeps the plan for the session. Its columns are tap_uploads.py COLUMNS, then
-- waiting, in the order Upload reads them.

CREATE OR REPLACE FUNCTION claim_pending_uploads(batch int, settle_seconds int,
                                                 window_closed_before timestamptz, the_slot int)
RETURNS TABLE (tap_id text, operator text, gate_id text, station text, direction text, payload text,
               scanned_at timestamptz, flags text[], waiting boolean)
LANGUAGE plpgsql VOLATILE
SET enable_sort = off
SET jit = off
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH w AS (
        SELECT u.tap_id, u.operator, u.gate_id, u.station, u.direction, u.payload, u.scanned_at,
               u.flags, true AS waiting
        FROM tap_uploads u
        WHERE u.state = 'waiting' AND u.slot = the_slot AND u.scanned_at < window_closed_before
        ORDER BY u.scanned_at, u.operator, u.tap_id LIMIT batch
        FOR UPDATE SKIP LOCKED
    ), p AS (
        SELECT u.tap_id, u.operator, u.gate_id, u.station, u.direction, u.payload, u.scanned_at,
               u.flags, false AS waiting
        FROM tap_uploads u
        WHERE u.state = 'pending' AND u.slot = the_slot
          AND u.received_at < now() - make_interval(secs => settle_seconds)
        ORDER BY u.scanned_at, u.operator, u.tap_id LIMIT batch
        FOR UPDATE SKIP LOCKED
    )
    SELECT due.* FROM (SELECT * FROM w UNION ALL SELECT * FROM p) AS due
    ORDER BY due.scanned_at, due.operator, due.tap_id LIMIT batch;
END
$$;
