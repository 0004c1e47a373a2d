-- tap_refusal(account_hex, credential_hex, scanned, online): why a tap is refused by the deny
-- list or its device credential as they stood at its scan time (issue 15 item 4), NULL when it
-- is not. Called per tap by record_scans() (db/functions/record_scans.sql) and by the set-wise
-- tap-in statement in bayaffairs/db/queries/journeys.py. A repeatable function file: `bayaffairs
-- migrate` runs it after the numbered migrations whenever its text changed (db/migrate.py), so
-- change it here, in place; a change of its arguments needs a numbered migration that drops the
-- old one first.
--
-- PL/pgSQL, not LANGUAGE sql: a sql function with sub-selects cannot be inlined, so PostgreSQL
-- parsed and planned its body again in every statement that called it, before the first row. In
-- the online scan's tap-in statement that was over a third of the database's CPU for a batch of
-- one scan (perf: fmgr_sql -> pg_plan_query), ~0.5 ms a batch; PL/pgSQL keeps its plan for the
-- session (tests/transit/test_scan_statement_cost.py). Its generic plan, as the sql function's
-- body was planned: left to choose, PL/pgSQL kept planning a custom plan at every call (the
-- generic one costed higher on a table without statistics), ~4x the look-ups' cost a call
-- (5,000 calls: 0.54 s as sql, 2.0 s, 0.54 s with the generic plan). STABLE as before: it sees
-- the calling statement's snapshot.
--
-- History: 0028_scan_time_validity.sql, then 0042_debtors_at_offline_gates.sql (`online`: an
-- uploaded tap is not refused for a debt); moved here with the same body, in PL/pgSQL.

CREATE OR REPLACE FUNCTION tap_refusal(account_hex text, credential_hex text, scanned timestamptz,
                            online boolean DEFAULT true)
RETURNS text
LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    RETURN (
        SELECT CASE
            WHEN coalesce((SELECT d.action = 'add' FROM deny_list d
                           WHERE d.kind = 'account' AND d.value = account_hex AND d.at <= scanned
                           ORDER BY d.seq DESC LIMIT 1), false)
                 AND (online OR EXISTS (  -- an add in force that is not for a debt
                     SELECT 1 FROM deny_list d
                     WHERE d.kind = 'account' AND d.value = account_hex AND d.at <= scanned
                       AND d.action = 'add' AND coalesce(d.reason, '') NOT LIKE 'unpaid fare%'
                       AND d.seq > coalesce((SELECT max(r.seq) FROM deny_list r
                                             WHERE r.kind = 'account' AND r.value = account_hex
                                               AND r.at <= scanned AND r.action = 'remove'), 0)))
                THEN 'denied_account'
            WHEN credential_hex IS NOT NULL AND (
                coalesce((SELECT d.action = 'add' FROM deny_list d
                          WHERE d.kind = 'credential' AND d.value = credential_hex AND d.at <= scanned
                          ORDER BY d.seq DESC LIMIT 1), false)
                OR NOT EXISTS (SELECT 1 FROM ride_credentials c
                               WHERE c.credential_id = decode(credential_hex, 'hex')
                                 AND c.account_token = decode(account_hex, 'hex')
                                 AND (c.revoked_at IS NULL OR c.revoked_at > scanned)))
                THEN 'revoked'
        END
    );
END
$$;
