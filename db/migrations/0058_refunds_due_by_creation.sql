-- The backlog gauges (issue 15) age a refund line from its creation: the refunding job moves a
-- line's updated_at at every try (a provider that does not answer puts it back to pending), so
-- the oldest updated_at of journey_refunds_due (0035) said how long since the last try, not how
-- long a rider has waited for the money. Lines waiting only, as journey_refunds_due: refunds are
-- rare writes, and decided lines are never read.
CREATE INDEX journey_refunds_due_since ON journey_refunds (created_at) WHERE status IN ('pending', 'refunding');
