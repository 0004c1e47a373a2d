-- take_slot's check for uploads due reads a slot's settled pending uploads through their receipt
-- time (issue 15, throughput). It asked for a pending upload of the slot received more than
-- `settle_seconds` ago, but tap_uploads_pending (0051) is in scan order, so the check read the
-- slot's pending uploads one by one, each from the table, until one had settled: during a burst
-- of uploads not yet settled (or behind a gate's late upload of old taps) it read every pending
-- upload of every slot, on each lane's round. 200,000 pending, 2,000,000 decided: 123 ms and
-- 92,000 buffers a check, against 0.2 ms here (decided uploads were never read: both indexes
-- hold pending rows only). The claim itself still reads in scan order (tap_uploads_pending).
CREATE INDEX tap_uploads_pending_received ON tap_uploads (slot, received_at) WHERE state = 'pending';
