-- Pairing does not depend on upload order (issue 15 item 5). Offline taps are paired per rider
-- and operator by their scan time, whatever order gates upload them in and whichever worker
-- takes them:
-- * An uploaded tap-out with no open journey of its operator entered before it (within the
--   gates' clock tolerance, item `skew`) is not priced as an orphan: with item `wait_for_entry`
--   record_scans() answers `wait`, and the upload is parked as `waiting` with its rider's account.
-- * When an uploaded tap-in of that rider opens a journey, the waiting tap-outs of that operator
--   scanned after it (within the maximum journey time) go back to `pending`, and pair with it.
-- * Once the offline window has closed (no entry scanned before it can still be uploaded), a
--   waiting tap-out is processed as before: the operator's rule for an exit without entry.
-- Workers serialise per rider (a transaction-scoped advisory lock on the account), so two
-- workers never decide one rider's taps from two snapshots. Otherwise record_scans() is as in
-- 0029_double_taps.sql.

ALTER TABLE tap_uploads DROP CONSTRAINT tap_uploads_state_check;
ALTER TABLE tap_uploads ADD CONSTRAINT tap_uploads_state_check
    CHECK (state IN ('pending', 'waiting', 'recorded', 'refused'));
ALTER TABLE tap_uploads ADD COLUMN account text;  -- hex of the rider's account, while waiting
CREATE INDEX tap_uploads_waiting ON tap_uploads (account, operator, scanned_at) WHERE state = 'waiting';
CREATE INDEX tap_uploads_waiting_since ON tap_uploads (scanned_at) WHERE state = 'waiting';

DROP FUNCTION record_scans(jsonb);

CREATE FUNCTION record_scans(items jsonb)
RETURNS TABLE (
    idx int, decision text, reason text, journey_id text, journey_status text,
    user_id text, category text, wallet_currency text,
    entry_station text, entry_at timestamptz, previous_operator text, previous_ended_at timestamptz,
    fare_amount int, fare_currency text, fare_rule text,
    charge_amount int, charge_currency text, fx_rate numeric, fx_source text
)
LANGUAGE plpgsql AS $$
DECLARE
    it record;
    acct bytea;
    uid text;
    cat text;
    wallet text;
    j journeys%ROWTYPE;
    jid text;
    status_now text;
    fare jsonb;
    charge jsonb;
    paired boolean;
BEGIN
    FOR it IN
        SELECT * FROM jsonb_to_recordset(items) AS x(
            idx int, tap_id text, journey_id text, operator text, gate_id text, station text,
            direction text, code_key text, account text, credential text, scanned_at timestamptz,
            source text, tap_out boolean, orphan_exit text, double_tap int, wait_for_entry boolean,
            skew int,
            fares jsonb, currency text, charges jsonb)
        ORDER BY x.idx
    LOOP
        idx := it.idx; journey_id := NULL; journey_status := NULL; entry_station := NULL;
        entry_at := NULL; previous_operator := NULL; previous_ended_at := NULL;
        fare_amount := NULL; fare_currency := NULL; fare_rule := NULL;
        charge_amount := NULL; charge_currency := NULL; fx_rate := NULL; fx_source := NULL;
        acct := decode(it.account, 'hex');
        SELECT a.user_id, u.category, u.wallet_currency INTO uid, cat, wallet
        FROM ride_accounts a JOIN users u ON u.id = a.user_id
        WHERE a.account_token = acct AND a.retired_at IS NULL;
        user_id := uid; category := cat; wallet_currency := wallet;
        IF uid IS NULL THEN
            decision := 'deny'; reason := 'denied_account'; RETURN NEXT; CONTINUE;
        END IF;
        reason := tap_refusal(it.account, it.credential, it.scanned_at);
        IF reason IS NOT NULL THEN
            decision := 'deny'; RETURN NEXT; CONTINUE;
        END IF;

        IF EXISTS (SELECT 1 FROM taps t WHERE t.code_key = it.code_key AND t.direction = it.direction) THEN
            decision := 'deny'; reason := 'replayed'; RETURN NEXT; CONTINUE;
        END IF;

        IF it.direction = 'in' THEN
            IF coalesce(it.double_tap, 0) > 0 AND NOT it.tap_out THEN
                SELECT x.id INTO jid FROM journeys x
                WHERE x.user_id = uid AND x.status IN ('completed', 'repaired')
                  AND coalesce(x.exit_at, x.entry_at)
                      BETWEEN it.scanned_at - make_interval(secs => it.double_tap)
                          AND it.scanned_at + make_interval(secs => it.double_tap)
                  AND x.operator = it.operator AND x.entry_station = it.station AND x.exit_station IS NULL
                ORDER BY x.entry_at LIMIT 1;
                IF FOUND THEN
                    INSERT INTO taps (tap_id, operator, gate_id, station, direction, code_key,
                                      account_token, scanned_at, source, journey_id)
                    VALUES (it.tap_id, it.operator, it.gate_id, it.station, 'in', it.code_key, acct,
                            it.scanned_at, it.source, jid)
                    ON CONFLICT DO NOTHING;
                    IF NOT FOUND THEN
                        decision := 'deny'; reason := 'replayed'; RETURN NEXT; CONTINUE;
                    END IF;
                    decision := 'open'; reason := 'double_tap'; journey_id := jid;
                    journey_status := 'completed'; RETURN NEXT; CONTINUE;
                END IF;
            END IF;
            IF EXISTS (SELECT 1 FROM journeys x WHERE x.account_token = acct AND x.status = 'open')
               OR EXISTS (SELECT 1 FROM journeys x WHERE x.user_id = uid AND x.status = 'unfinished') THEN
                decision := 'deny'; reason := 'unfinished_journey'; RETURN NEXT; CONTINUE;
            END IF;
            INSERT INTO taps (tap_id, operator, gate_id, station, direction, code_key, account_token,
                              scanned_at, source, journey_id)
            VALUES (it.tap_id, it.operator, it.gate_id, it.station, 'in', it.code_key, acct,
                    it.scanned_at, it.source, it.journey_id)
            ON CONFLICT DO NOTHING;
            IF NOT FOUND THEN
                decision := 'deny'; reason := 'replayed'; RETURN NEXT; CONTINUE;
            END IF;
            status_now := CASE WHEN it.tap_out THEN 'open' ELSE 'completed' END;
            fare := CASE WHEN status_now = 'completed' THEN it.fares -> cat END;
            IF fare IS NOT NULL THEN
                fare_amount := (fare ->> 0)::int; fare_currency := it.currency; fare_rule := fare ->> 1;
                charge := it.charges -> wallet -> cat;
                IF charge IS NOT NULL THEN
                    charge_amount := (charge ->> 0)::int; charge_currency := wallet;
                    fx_rate := (charge ->> 1)::numeric; fx_source := charge ->> 2;
                END IF;
            END IF;
            INSERT INTO journeys (id, account_token, user_id, operator, category, status,
                                  entry_station, entry_at, fare_amount, fare_currency, fare_rule,
                                  charge_amount, charge_currency, fx_rate, fx_source, charge_status)
            VALUES (it.journey_id, acct, uid, it.operator, cat, status_now, it.station, it.scanned_at,
                    fare_amount, fare_currency, fare_rule, charge_amount, charge_currency, fx_rate,
                    fx_source, CASE WHEN fare IS NULL THEN 'none' ELSE 'pending' END)
            ON CONFLICT (account_token) WHERE status = 'open' DO NOTHING;
            IF NOT FOUND THEN
                DELETE FROM taps WHERE tap_id = it.tap_id;
                decision := 'deny'; reason := 'unfinished_journey'; RETURN NEXT; CONTINUE;
            END IF;
            IF fare IS NULL THEN
                SELECT x.operator, coalesce(x.exit_at, x.entry_at) INTO previous_operator, previous_ended_at
                FROM journeys x
                WHERE x.user_id = uid AND x.status IN ('completed', 'repaired') AND x.id <> it.journey_id
                ORDER BY coalesce(x.exit_at, x.entry_at) DESC LIMIT 1;
            END IF;
            decision := 'open'; reason := NULL; journey_id := it.journey_id; journey_status := status_now;
            entry_station := it.station; entry_at := it.scanned_at;
            RETURN NEXT; CONTINUE;
        END IF;

        -- tap-out
        SELECT * INTO j FROM journeys x
        WHERE x.account_token = acct AND x.status = 'open' FOR UPDATE;
        -- Its journey: the open one of this operator entered before it (gates' clocks may be
        -- `skew` apart), else none.
        paired := FOUND AND j.operator = it.operator
                  AND j.entry_at <= it.scanned_at + make_interval(secs => coalesce(it.skew, 0));
        IF NOT paired AND coalesce(it.wait_for_entry, false) THEN
            -- its entry may still be on a gate: pair it once that arrives
            decision := 'wait'; reason := 'no_entry_yet'; RETURN NEXT; CONTINUE;
        END IF;
        IF NOT paired THEN
            IF it.orphan_exit <> 'max_fare' OR (FOUND AND j.operator <> it.operator) THEN
                decision := 'deny'; reason := 'wrong_direction'; RETURN NEXT; CONTINUE;
            END IF;
            j := NULL;
            jid := it.journey_id;
        ELSE
            jid := j.id;
        END IF;
        INSERT INTO taps (tap_id, operator, gate_id, station, direction, code_key, account_token,
                          scanned_at, source, journey_id)
        VALUES (it.tap_id, it.operator, it.gate_id, it.station, 'out', it.code_key, acct,
                it.scanned_at, it.source, jid)
        ON CONFLICT DO NOTHING;
        IF NOT FOUND THEN
            decision := 'deny'; reason := 'replayed'; RETURN NEXT; CONTINUE;
        END IF;
        IF jid = it.journey_id THEN
            INSERT INTO journeys (id, account_token, user_id, operator, category, status,
                                  exit_station, exit_at)
            VALUES (jid, acct, uid, it.operator, cat, 'completed', it.station, it.scanned_at);
        ELSE
            UPDATE journeys SET status = 'completed', exit_station = it.station,
                                exit_at = it.scanned_at, updated_at = now()
            WHERE id = jid;
            entry_station := j.entry_station; entry_at := j.entry_at; category := j.category;
        END IF;
        SELECT x.operator, coalesce(x.exit_at, x.entry_at) INTO previous_operator, previous_ended_at
        FROM journeys x
        WHERE x.user_id = uid AND x.status IN ('completed', 'repaired') AND x.id <> jid
          AND coalesce(x.exit_at, x.entry_at) <= coalesce(j.entry_at, it.scanned_at)
        ORDER BY coalesce(x.exit_at, x.entry_at) DESC LIMIT 1;
        decision := 'open'; reason := NULL; journey_id := jid; journey_status := 'completed';
        RETURN NEXT;
    END LOOP;
END;
$$;
