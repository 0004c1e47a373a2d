-- Cross-border travel, second pass (issue 10): what carriers need.

-- A departure the carrier (or an admin) cancelled: no more holds or sales; every booking on it
-- released or refunded in full, or moved by its rider to the next departure with seats.
ALTER TABLE travel_departures
    ADD COLUMN cancelled_at timestamptz,
    ADD COLUMN cancel_reason text,
    ADD COLUMN cancelled_by text;

-- The bookings of one departure (cancellations, manifests).
CREATE INDEX travel_bookings_departure ON travel_bookings (departure_id, status);

-- A booking moved to another departure gets new tickets; the old ones stay, cancelled, so a
-- position has one live ticket at a time, not one ticket ever.
ALTER TABLE travel_tickets DROP CONSTRAINT travel_tickets_booking_id_position_key;
CREATE UNIQUE INDEX travel_tickets_live ON travel_tickets (booking_id, position) WHERE status <> 'cancelled';
CREATE INDEX travel_tickets_booking ON travel_tickets (booking_id, position);
CREATE INDEX travel_tickets_departure ON travel_tickets (departure_id);

-- A booking its rider moved from a cancelled departure to another.
ALTER TABLE travel_bookings ADD COLUMN moved_from text REFERENCES travel_departures (id);
