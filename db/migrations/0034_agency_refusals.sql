-- Agency refusals reach the rider (issue 11): an appointment a remote agency refuses is
-- cancelled with the agency's reason (cancel_reason). The outbox keeps a reschedule's events in
-- order: every event carries the chain of appointments it belongs to (the first appointment's
-- id; a reschedule's new appointment continues its old one's chain), and an event waits for the
-- earlier unsent events of its chain, so the old booking's cancel reaches the agency before the
-- new booking.
ALTER TABLE appointments ADD COLUMN cancel_reason text;

ALTER TABLE agency_outbox ADD COLUMN chain_id text;
UPDATE agency_outbox SET chain_id = appointment_id;
ALTER TABLE agency_outbox ALTER COLUMN chain_id SET NOT NULL;
CREATE INDEX agency_outbox_chain ON agency_outbox (chain_id, id) WHERE sent_at IS NULL AND failed_at IS NULL;
