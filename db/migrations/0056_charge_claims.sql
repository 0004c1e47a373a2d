-- The charging job's claims in a table of their own (issue 15, throughput): a charge writes its
-- journey once, with its outcome.
--
-- A claim was `charge_status = 'charging'` on the journeys row, and the outcome `charged` or
-- `failed` a second write of it: two new versions of the row, each written to all of journeys'
-- indexes (charge_status is in journeys_to_charge's predicate and updated_at is a key of three
-- of them, so neither was ever a HOT update), in the worker that also answers gates. Now a claim
-- is a row here, made in the claim's transaction while the journey row is locked (not written):
-- anything that prices a journey again locks it first, then finds the claim, so a journey being
-- charged is still treated as sent (bayaffairs/transit/repricing.py; the rows the service reads
-- say `charging` while a claim is held: db/queries/journeys.py). The outcome updates the journey
-- (moving its updated_at, which settlement reads for changes since a close: db/queries/
-- settlements.py) and deletes the claim in one statement; a charge the provider did not answer
-- deletes its claim and moves its journey behind the others due (a write, as before, only for
-- a charge not answered). A claim older than the job's stale_seconds is a dead worker's and is
-- taken over.
--
-- Journeys a worker had claimed before this migration: their claims move here (claimed when
-- their row last changed, as the stale check read it) and they are pending again.
--
-- Rolling deploy: upgrade the workers that run the charging job together. A worker of the old
-- code does not see these claims (it may claim and charge a journey a new worker is charging: the
-- provider's idempotency reference, the journey id, keeps it one charge, but the repricing of
-- such a journey by old code would not see it as sent). A journey an old worker marks `charging`
-- after this migration is taken over by the new code once stale, as before.
CREATE TABLE charge_claims (
    journey_id text PRIMARY KEY REFERENCES journeys (id) ON DELETE CASCADE,
    claimed_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO charge_claims (journey_id, claimed_at)
SELECT id, updated_at FROM journeys WHERE charge_status = 'charging';
UPDATE journeys SET charge_status = 'pending' WHERE charge_status = 'charging';
