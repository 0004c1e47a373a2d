-- Every new change number of a centre is announced on the channel `appointment_changes` as
-- '<centre id>:<number>' (issue 11, counter pull throughput). PostgreSQL delivers a NOTIFY at
-- commit, in commit order, and never for a rolled-back change, so a listening worker can keep the
-- centres' numbers in memory and answer a counter's If-None-Match without a read (see
-- bayaffairs/appointments/changes.py). A trigger, so no writer can forget it (the service, the
-- CLI, a hand-run UPDATE, the bench's seeding).
CREATE FUNCTION appointment_change_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('appointment_changes', NEW.centre_id || ':' || NEW.seq);
    RETURN NULL;
END
$$;

CREATE TRIGGER appointment_change_notify
    AFTER INSERT OR UPDATE ON appointment_centre_changes
    FOR EACH ROW EXECUTE FUNCTION appointment_change_notify();
