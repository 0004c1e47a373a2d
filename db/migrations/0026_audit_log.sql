-- The audit log (issue 14): what admins and counters changed through the API, by whom, to what,
-- when, under which request id, and how it was answered. Append-only, whoever connects: triggers
-- refuse UPDATE, DELETE and TRUNCATE (the application only ever inserts and reads).
CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL,
    actor       text NOT NULL,          -- the credential: "<kind>:<credential id>"
    actor_kind  text NOT NULL,          -- admin, counter
    scope       text NOT NULL,          -- the credential's scope: "all", a centre
    action      text NOT NULL,          -- method and route, "POST /v1/counter/queue/next"
    target      text NOT NULL,          -- what it acted on: an id, else the request's path
    status      integer NOT NULL,       -- the answer's HTTP status (refusals are recorded too)
    request_id  text NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at, id);

CREATE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
