-- Retries that reach the same hold at the carrier (docs/travel.md, "Recovery").
--
-- request_key: the rider's Idempotency-Key of the hold that made the booking. A retry after
-- the carrier failed finds the booking by it and holds again under the same booking id (our
-- reference at the carrier, which answers a repeated reference with the same hold). Not
-- unique: when the sweeper has meanwhile released that reference at the carrier, the retry
-- makes a new booking with the same key (the idempotency layer keeps two requests with one key
-- from running at once).
ALTER TABLE travel_bookings ADD COLUMN request_key text;
CREATE INDEX travel_bookings_request_key ON travel_bookings (user_id, request_key, created_at)
    WHERE request_key IS NOT NULL;

-- A row is now written before the sweeper asks the carrier to let go (released_at NULL: asked,
-- not yet answered), so a retry never holds again under a reference being released.
ALTER TABLE travel_carrier_releases ALTER COLUMN released_at DROP NOT NULL;

-- Bookings given up on at the carrier: a hold it may have made (carrier_hold_failed) or a
-- confirmation it may have made (carrier_unconfirmed: no answer within payment_give_up_seconds).
DROP INDEX travel_bookings_carrier_hold_failed;
CREATE INDEX travel_bookings_given_up ON travel_bookings (updated_at)
    WHERE status = 'released' AND release_reason IN ('carrier_hold_failed', 'carrier_unconfirmed');
