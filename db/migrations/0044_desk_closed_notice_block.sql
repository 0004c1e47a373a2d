-- A desk-closed notice names the block it is about (issue 11): a block removed before its
-- notices go out opens the time again, so they are dropped unsent ('block removed'). Notices
-- written before get theirs from their dedupe key, desk_closed:<block id>:<appointment id>.
ALTER TABLE appointment_notices ADD COLUMN block_id text REFERENCES counter_blocks (id);
UPDATE appointment_notices SET block_id = split_part(dedupe_key, ':', 2) WHERE kind = 'desk_closed';
ALTER TABLE appointment_notices ADD CONSTRAINT appointment_notices_block
    CHECK ((kind = 'desk_closed') = (block_id IS NOT NULL));
