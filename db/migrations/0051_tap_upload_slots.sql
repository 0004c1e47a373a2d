-- Drain lanes claim disjoint sets of uploads (issue 15, throughput).
--
-- Every lane of every worker used to claim the oldest pending uploads, FOR UPDATE SKIP LOCKED:
-- each claim stepped over the rows the other lanes held (four lanes: ~25 µs of the database's
-- CPU a tap, against ~2 µs alone), and two lanes could hold one rider's taps at once (the rider
-- lock then left them for later). Now an upload carries the slot of its rider (0-15, from the
-- account token in the code, random per account: bayaffairs/transit/uploads.py `slot_of`), set
-- when it is stored; a lane takes one slot at a time (a transaction-scoped advisory lock) and
-- claims only that slot's uploads, in scan order, from the indexes below. A rider's taps are in
-- one slot, so one lane at a time decides them. Uploads stored before this have slot 0.
ALTER TABLE tap_uploads ADD COLUMN slot smallint NOT NULL DEFAULT 0 CHECK (slot BETWEEN 0 AND 15);
UPDATE tap_uploads SET slot = get_byte(decode(substr(account, 1, 2), 'hex'), 0) % 16
WHERE state = 'waiting' AND account IS NOT NULL;

DROP INDEX tap_uploads_pending;
CREATE INDEX tap_uploads_pending ON tap_uploads (slot, scanned_at) WHERE state = 'pending';
DROP INDEX tap_uploads_waiting_since;
CREATE INDEX tap_uploads_waiting_since ON tap_uploads (slot, scanned_at) WHERE state = 'waiting';
