-- Cross-border travel, second pass (issue 10): the rules riders meet at the border.

-- Endorsements (and passport visas) are `{"type", "destination", "expires", "entries"}`, as
-- the API names them; rows written before said `valid_until`.
UPDATE documents SET endorsements = (
    SELECT coalesce(jsonb_agg((e - 'valid_until') || jsonb_build_object('expires', e -> 'valid_until')), '[]')
    FROM jsonb_array_elements(endorsements) e
) WHERE endorsements::text LIKE '%valid_until%';

-- A passenger knows its departure and its document's fingerprint (the keyed HMAC of type and
-- number, the same whoever holds the document), so that one document holds one seat per
-- departure across every booking and rider; its masked number for the carrier's manifest; its
-- onward flight (airside transfers, transit without a visa); its own fare and category; and
-- whether it holds a seat now (`active`: its booking is held, paying or confirmed and it was
-- not cancelled on its own).
ALTER TABLE travel_passengers
    ADD COLUMN departure_id text REFERENCES travel_departures (id),
    ADD COLUMN fingerprint bytea,
    ADD COLUMN number_masked text NOT NULL DEFAULT '',
    ADD COLUMN category text NOT NULL DEFAULT 'adult',
    ADD COLUMN fare_amount integer NOT NULL DEFAULT 0 CHECK (fare_amount >= 0),
    ADD COLUMN onward_flight text,
    ADD COLUMN onward_departs_at timestamptz,
    ADD COLUMN active boolean NOT NULL DEFAULT true,
    ADD COLUMN cancelled_at timestamptz;
UPDATE travel_passengers p SET departure_id = b.departure_id,
    active = b.status IN ('held', 'paying', 'confirmed'),
    fare_amount = b.total_amount / b.seats
FROM travel_bookings b WHERE b.id = p.booking_id;
UPDATE travel_passengers p SET fingerprint = d.number_fingerprint, number_masked = d.number_masked
FROM documents d WHERE d.id = p.document_id;
-- Before this rule one document could hold many seats: the earliest keeps its place in the index.
UPDATE travel_passengers p SET fingerprint = NULL
WHERE p.active AND EXISTS (
    SELECT 1 FROM travel_passengers o
    WHERE o.active AND o.departure_id = p.departure_id AND o.fingerprint = p.fingerprint
      AND (o.booking_id, o.position) < (p.booking_id, p.position)
);
ALTER TABLE travel_passengers ALTER COLUMN departure_id SET NOT NULL;
CREATE UNIQUE INDEX travel_passengers_one_seat ON travel_passengers (departure_id, fingerprint)
    WHERE active AND fingerprint IS NOT NULL;

-- A passenger holds a seat while its booking does: released or cancelled bookings let go of
-- theirs, a booking held again (a retried hold) takes back those not cancelled on their own.
CREATE OR REPLACE FUNCTION travel_passengers_follow_booking() RETURNS trigger AS $$
BEGIN
    IF NEW.status IN ('released', 'cancelled') THEN
        UPDATE travel_passengers SET active = false WHERE booking_id = NEW.id AND active;
    ELSIF OLD.status IN ('released', 'cancelled') THEN
        UPDATE travel_passengers SET active = true WHERE booking_id = NEW.id AND cancelled_at IS NULL;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER travel_passengers_follow_booking AFTER UPDATE OF status ON travel_bookings
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION travel_passengers_follow_booking();

-- A rider's unpaid bookings, counted under the rider's lock by every hold (`max_active_holds`).
CREATE INDEX travel_bookings_unpaid ON travel_bookings (user_id) WHERE status IN ('held', 'paying');
