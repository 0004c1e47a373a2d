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
-- Rolling deploy: journeys a worker of the old code is charging (`charging` on the journeys
-- row) are left as they are, with no claim here. That worker's outcome (charged, failed, or
-- pending again), which it writes only to a journey still `charging`, lands as before; the new
-- code reads such a journey as `charging` and takes it over only once it is stale (its
-- updated_at older than stale_seconds), as a dead worker's. (Moving those claims here and
-- setting their journeys back to pending, as this migration first did before any release, lost
-- the old worker's outcome and let old workers claim the journey and charge it again, or reprice
-- it as never sent.) A journey an old worker marks `charging` after this migration is treated
-- the same way. What remains: a worker of the old code does not see this table, so it may claim
-- a journey a new worker holds a claim on here and is charging; the provider's idempotency
-- reference, the journey id, keeps that one charge, but old code repricing such a journey would
-- not see it as sent. Keep that overlap short: upgrade the workers that run the charging job
-- together.
CREATE TABLE charge_claims (
    journey_id text PRIMARY KEY REFERENCES journeys (id) ON DELETE CASCADE,
    claimed_at timestamptz NOT NULL DEFAULT now()
);
