-- Cancellation cooldown (ZMS deallocationDuration): a cancelled appointment keeps its seat on the
-- slot's counter until seat_held_until, so nobody (the canceller included) can take the freed
-- seat at once, which would make trading appointments easy. The seat goes back to the counter the
-- first time a booker finds the slot full after that time (under the slot's row lock); until then
-- the slot list subtracts expired holds itself. NULL: holds no seat.
ALTER TABLE appointments ADD COLUMN seat_held_until timestamptz;
CREATE INDEX appointments_seat_holds ON appointments (centre_id, service_id, starts_at)
    WHERE seat_held_until IS NOT NULL;
