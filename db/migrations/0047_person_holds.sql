-- A cancellation that still holds its desk still counts for its person (issue 11, review
-- finding 2): a booking looks up the person's holds by the quota's identities (person_keys),
-- which the quota's index leaves out (it has no cancelled rows). Holds are few and short.
CREATE INDEX appointments_hold_keys ON appointments USING gin (person_keys)
    WHERE seat_held_until IS NOT NULL;
