-- Capacity per desk (issue 11): a counter (desk) serves one appointment at a time, across all
-- its services, and services last different times. Every appointment that holds capacity (active,
-- or cancelled and still in its cooldown) is assigned a desk; the exclusion constraint refuses two
-- such appointments on one desk at overlapping times, whatever code wrote them. It is checked at
-- commit, so a booking may move other appointments between desks in its transaction. Bookers of a
-- centre-day take one advisory lock (bayaffairs/db/queries/appointments.py: lock_centre_days).
-- The per-service slot counters and seat numbers this replaces are dropped.
CREATE EXTENSION IF NOT EXISTS btree_gist;

DROP TABLE appointment_slots;
DROP INDEX appointments_seat_holds;
ALTER TABLE appointments DROP COLUMN seat;
ALTER TABLE appointments ADD COLUMN counter_id text;  -- the desk reserved for the appointment's time

ALTER TABLE appointments ADD CONSTRAINT appointments_one_per_desk
    EXCLUDE USING gist (centre_id WITH =, counter_id WITH =, tstzrange(starts_at, ends_at) WITH &&)
    WHERE (status IN ('booked', 'checked_in', 'called') OR seat_held_until IS NOT NULL)
    DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE appointments ADD CONSTRAINT appointments_holding_has_desk
    CHECK (counter_id IS NOT NULL OR NOT (status IN ('booked', 'checked_in', 'called') OR seat_held_until IS NOT NULL));

-- What holds capacity on a centre's day (active appointments and cooling-down cancellations).
CREATE INDEX appointments_desk_day ON appointments (centre_id, local_date)
    WHERE status IN ('booked', 'checked_in', 'called') OR seat_held_until IS NOT NULL;
