-- Repairs of unfinished journeys (issue 15 item 3). A rider says where they left a journey
-- closed as unfinished; within their operator's `self_repairs_per_month` the repair is applied at
-- once (status `applied`), beyond it it waits for the operator (`pending`, then `approved` or
-- `refused`); `superseded`: the journey was completed otherwise (a late tap-out) meanwhile.
CREATE TABLE journey_repairs (
    id            text PRIMARY KEY,
    journey_id    text NOT NULL REFERENCES journeys (id),
    user_id       text NOT NULL REFERENCES users (id),
    operator      text NOT NULL,
    exit_station  text NOT NULL,
    status        text NOT NULL
                  CHECK (status IN ('applied', 'pending', 'approved', 'refused', 'superseded')),
    created_at    timestamptz NOT NULL,
    decided_at    timestamptz,
    decided_by    text           -- the operator credential that approved or refused
);
-- One repair waiting or done per journey (a refused one may not be asked again).
CREATE UNIQUE INDEX journey_repairs_one ON journey_repairs (journey_id) WHERE status <> 'superseded';
CREATE INDEX journey_repairs_rider ON journey_repairs (user_id, operator, created_at);
CREATE INDEX journey_repairs_pending ON journey_repairs (operator, id) WHERE status = 'pending';
