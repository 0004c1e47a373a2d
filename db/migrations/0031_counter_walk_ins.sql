-- The queue in slot order and walk-ins (issue 11). A walk-in is a row of appointments with
-- `walk_in` set: no rider (user_id NULL), no booked desk while it waits (it is called only into a
-- gap of the desks' ledger, and takes its desk from then for its service's length), a queue
-- number from the same daily sequence as checked-in appointments.
ALTER TABLE appointments ADD COLUMN walk_in boolean NOT NULL DEFAULT false;
ALTER TABLE appointments ALTER COLUMN user_id DROP NOT NULL;
ALTER TABLE appointments ADD CONSTRAINT appointments_rider_unless_walk_in
    CHECK (walk_in OR user_id IS NOT NULL);
ALTER TABLE appointments DROP CONSTRAINT appointments_holding_has_desk;
ALTER TABLE appointments ADD CONSTRAINT appointments_holding_has_desk
    CHECK (counter_id IS NOT NULL OR (walk_in AND status = 'checked_in')
           OR NOT (status IN ('booked', 'checked_in', 'called') OR seat_held_until IS NOT NULL));
