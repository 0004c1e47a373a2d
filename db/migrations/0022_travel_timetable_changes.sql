-- Timetable changes (issue 10 item 10): a new timetable reaches the departures already
-- materialised. One nobody bought takes the new times, fares and seats (or goes, when the
-- timetable no longer has it); one with sales keeps what its riders bought, and they are told.

-- No longer in the carrier's timetable but booked, so kept: off sale (no hold, not listed).
ALTER TABLE travel_departures ADD COLUMN withdrawn_at timestamptz;
-- What changed for the riders of a departure with sales: {"kind": "retimed" | "withdrawn",
-- "departs_at", "arrives_at", "booked_arrives_at", "alternative"}; NULL when nothing did.
ALTER TABLE travel_departures ADD COLUMN schedule_change jsonb;
ALTER TABLE travel_departures ADD COLUMN schedule_changed_at timestamptz;
