-- record_scans(items jsonb): decide and record a batch of verified taps (bayaffairs/transit/scans.py
-- sends them; db/queries/journeys.py reads the rows). A repeatable function file: `bayaffairs
-- migrate` runs it after the numbered migrations whenever its text changed (db/migrate.py), so
-- change it here, in place. A change of its arguments or of the columns it returns cannot be
-- made by CREATE OR REPLACE: drop the old function in a numbered migration first.
--
-- History: 0003_transit.sql first, then re-created whole in 0005, 0028, 0029, 0030, 0035, 0040,
-- 0041, 0042 and 0043 (each file's header says what it changed); moved here unchanged from
-- 0043_late_tap_out_limit.sql. Since: an uploaded tap's category at its scan time (0053).

CREATE OR REPLACE FUNCTION record_scans(items jsonb)
RETURNS TABLE (
    idx int, decision text, reason text, journey_id text, journey_status text,
    user_id text, category text, wallet_currency text,
    entry_station text, entry_at timestamptz, previous_operator text, previous_ended_at timestamptz,
    fare_amount int, fare_currency text, fare_rule text,
    charge_amount int, charge_currency text, fx_rate numeric, fx_source text, late boolean,
    journey_operator text
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
    other_open boolean;
    ours boolean;
    ended boolean;
    entered_before boolean;
    paid_riders int;
    paid int;
BEGIN
    FOR it IN
        SELECT * FROM jsonb_to_recordset(items) AS x(
            idx int, tap_id text, journey_id text, operator text, gate_id text, station text,
            direction text, code_key text, account text, credential text, scanned_at timestamptz,
            source text, tap_out boolean, orphan_exit text, double_tap int, wait_for_entry boolean,
            skew int, partners jsonb, riders int, late_days int,
            fares jsonb, currency text, charges jsonb)
        ORDER BY x.idx
    LOOP
        idx := it.idx; journey_id := NULL; journey_status := NULL; entry_station := NULL;
        entry_at := NULL; previous_operator := NULL; previous_ended_at := NULL;
        fare_amount := NULL; fare_currency := NULL; fare_rule := NULL;
        charge_amount := NULL; charge_currency := NULL; fx_rate := NULL; fx_source := NULL;
        late := false; journey_operator := it.operator; paid_riders := 0; paid := 0;
        acct := decode(it.account, 'hex');
        SELECT a.user_id, u.category, u.wallet_currency INTO uid, cat, wallet
        FROM ride_accounts a JOIN users u ON u.id = a.user_id
        -- the account as it stood at the scan: a tap scanned before an erasure retired it,
        -- uploaded after, is recorded under the pseudonym the account now belongs to
        WHERE a.account_token = acct AND (a.retired_at IS NULL OR a.retired_at > it.scanned_at);
        IF it.source <> 'online' THEN
            -- an uploaded tap is priced at the rider's category at its scan (0053); an online
            -- scan is now, the column (none before the scan: a pseudonym's, made at its erasure)
            cat := coalesce((SELECT c.category FROM user_categories c
                             WHERE c.user_id = uid AND c.since <= it.scanned_at
                             ORDER BY c.since DESC LIMIT 1), cat);
        END IF;
        user_id := uid; category := cat; wallet_currency := wallet;
        IF uid IS NULL THEN
            decision := 'deny'; reason := 'denied_account'; RETURN NEXT; CONTINUE;
        END IF;
        reason := tap_refusal(it.account, it.credential, it.scanned_at, it.source = 'online');
        IF reason IS NOT NULL THEN
            decision := 'deny'; RETURN NEXT; CONTINUE;
        END IF;

        IF EXISTS (SELECT 1 FROM taps t WHERE t.code_key = it.code_key AND t.direction = it.direction) THEN
            decision := 'deny'; reason := 'replayed'; RETURN NEXT; CONTINUE;
        END IF;

        IF it.direction = 'in' THEN
            IF coalesce(it.double_tap, 0) > 0 AND NOT it.tap_out THEN
                -- the riders (and fares before products) the window's journeys here paid for
                SELECT (array_agg(x.id ORDER BY x.entry_at))[1], coalesce(sum(x.riders), 0),
                       coalesce(sum(coalesce(x.product_spend, x.fare_amount)), 0)
                INTO jid, paid_riders, paid
                FROM journeys x
                WHERE x.user_id = uid AND x.status IN ('completed', 'repaired')
                  AND coalesce(x.exit_at, x.entry_at)
                      BETWEEN it.scanned_at - make_interval(secs => it.double_tap)
                          AND it.scanned_at + make_interval(secs => it.double_tap)
                  AND x.operator = it.operator AND x.entry_station = it.station AND x.exit_station IS NULL;
                IF jid IS NOT NULL AND paid_riders >= coalesce(it.riders, 1) THEN
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
            IF coalesce(it.double_tap, 0) > 0 AND it.tap_out THEN
                -- A second entry at the same station within `double_tap` seconds of the rider's
                -- entry there (the gate seemed not to open; two taps), either order, while that
                -- journey had no exit yet at this tap's time: the same entry, let through on it
                -- (before: online refused unfinished_journey; uploaded, it closed the first as
                -- unfinished, the maximum fare, and opened a second: charged twice). After an
                -- exit it is a new entry, so exit-and-re-enter is no free ride.
                SELECT x.id, x.status INTO jid, status_now FROM journeys x
                WHERE x.account_token = acct AND x.operator = it.operator AND x.entry_station = it.station
                  AND x.entry_at BETWEEN it.scanned_at - make_interval(secs => it.double_tap)
                                     AND it.scanned_at + make_interval(secs => it.double_tap)
                  AND (x.exit_at IS NULL OR x.exit_at > it.scanned_at)
                  AND x.riders >= coalesce(it.riders, 1)
                ORDER BY x.entry_at LIMIT 1;
                IF jid IS NOT NULL THEN
                    INSERT INTO taps (tap_id, operator, gate_id, station, direction, code_key,
                                      account_token, scanned_at, source, journey_id)
                    VALUES (it.tap_id, it.operator, it.gate_id, it.station, 'in', it.code_key, acct,
                            it.scanned_at, it.source, jid)
                    ON CONFLICT DO NOTHING;
                    IF NOT FOUND THEN
                        decision := 'deny'; reason := 'replayed'; RETURN NEXT; CONTINUE;
                    END IF;
                    decision := 'open'; reason := 'double_tap'; journey_id := jid;
                    journey_status := status_now; RETURN NEXT; CONTINUE;
                END IF;
            END IF;
            IF it.source <> 'online' AND it.tap_out THEN
                -- its exit, priced without it (an online tap-out came first): the entry completes it
                SELECT * INTO j FROM journeys x
                WHERE x.account_token = acct AND x.operator = it.operator AND x.entry_at IS NULL
                  AND x.status = 'completed'
                  AND x.exit_at >= it.scanned_at - make_interval(secs => coalesce(it.skew, 0))
                  AND NOT EXISTS (SELECT 1 FROM journeys y WHERE y.account_token = acct
                                  AND y.entry_at > it.scanned_at AND y.entry_at <= x.exit_at)
                ORDER BY x.exit_at LIMIT 1 FOR UPDATE;
                IF FOUND THEN
                    INSERT INTO taps (tap_id, operator, gate_id, station, direction, code_key,
                                      account_token, scanned_at, source, journey_id)
                    VALUES (it.tap_id, it.operator, it.gate_id, it.station, 'in', it.code_key, acct,
                            it.scanned_at, it.source, j.id)
                    ON CONFLICT DO NOTHING;
                    IF NOT FOUND THEN
                        decision := 'deny'; reason := 'replayed'; RETURN NEXT; CONTINUE;
                    END IF;
                    UPDATE journeys x SET entry_station = it.station, entry_at = it.scanned_at,
                                          updated_at = now()
                    WHERE x.id = j.id;
                    SELECT x.operator, coalesce(x.exit_at, x.entry_at) INTO previous_operator, previous_ended_at
                    FROM journeys x
                    WHERE x.user_id = uid AND x.status IN ('completed', 'repaired') AND x.id <> j.id
                      AND coalesce(x.exit_at, x.entry_at) <= it.scanned_at
                    ORDER BY coalesce(x.exit_at, x.entry_at) DESC LIMIT 1;
                    decision := 'open'; reason := NULL; journey_id := j.id; journey_status := 'completed';
                    entry_station := it.station; entry_at := it.scanned_at; category := j.category;
                    late := true;  -- the caller prices it entry to exit (as a late tap-out)
                    RETURN NEXT; CONTINUE;
                END IF;
            END IF;
            -- An uploaded entry the rider's later entries show to be over (see the top).
            ended := it.source <> 'online' AND EXISTS (
                SELECT 1 FROM journeys x WHERE x.account_token = acct AND x.entry_at > it.scanned_at);
            IF it.source = 'online'
               AND EXISTS (SELECT 1 FROM journeys x WHERE x.account_token = acct AND x.status = 'open') THEN
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
            IF it.source <> 'online' AND it.tap_out AND NOT ended THEN
                -- they left their open journey without a tap-out: closed, priced by the overdue job
                UPDATE journeys x SET status = 'unfinished', updated_at = now()
                WHERE x.account_token = acct AND x.status = 'open' AND x.entry_at <= it.scanned_at;
            END IF;
            status_now := CASE WHEN NOT it.tap_out THEN 'completed' WHEN ended THEN 'unfinished' ELSE 'open' END;
            fare := CASE WHEN status_now = 'completed' THEN it.fares -> cat END;
            IF fare IS NOT NULL AND paid_riders > 0 THEN
                -- a bigger group than the window's journeys paid for: the riders not paid for
                -- (charged by the charging job, converted then)
                fare_amount := greatest((fare ->> 0)::int - paid, 0); fare_currency := it.currency;
                fare_rule := format('%s less %s paid on a double tap', fare ->> 1, paid_riders);
            ELSIF fare IS NOT NULL THEN
                fare_amount := (fare ->> 0)::int; fare_currency := it.currency; fare_rule := fare ->> 1;
                charge := it.charges -> wallet -> cat;
                IF charge IS NOT NULL THEN
                    charge_amount := (charge ->> 0)::int; charge_currency := wallet;
                    fx_rate := (charge ->> 1)::numeric; fx_source := charge ->> 2;
                END IF;
            END IF;
            INSERT INTO journeys (id, account_token, user_id, operator, category, status,
                                  entry_station, entry_at, fare_amount, fare_currency, fare_rule,
                                  charge_amount, charge_currency, fx_rate, fx_source, charge_status,
                                  riders)
            VALUES (it.journey_id, acct, uid, it.operator, cat, status_now, it.station, it.scanned_at,
                    fare_amount, fare_currency, fare_rule, charge_amount, charge_currency, fx_rate,
                    fx_source, CASE WHEN fare IS NULL THEN 'none' ELSE 'pending' END,
                    coalesce(it.riders, 1) - paid_riders)
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
        -- `skew` apart), else none. An open journey entered after the tap (an uploaded exit
        -- arriving late) has nothing to do with it, whoever's it is: the tap pairs as if none
        -- were open (the late tap-out below finds the journey it ends). Only another
        -- operator's journey entered before it makes it a wrong direction.
        entered_before := FOUND AND j.entry_at <= it.scanned_at + make_interval(secs => coalesce(it.skew, 0));
        ours := FOUND AND (j.operator = it.operator OR coalesce(it.partners ? j.operator, false));
        paired := ours AND entered_before;
        other_open := entered_before AND NOT ours;
        IF NOT paired AND NOT other_open THEN
            -- A late tap-out: the rider's last entry before it is a journey of this operator
            -- already closed as unfinished (or repaired): the tap completes that journey.
            -- Scanned more than `late_days` (repair_days) after that entry it is no longer one (0043).
            SELECT * INTO j FROM journeys x
            WHERE x.account_token = acct AND x.entry_at <= it.scanned_at
              AND (it.late_days IS NULL OR x.entry_at >= it.scanned_at - make_interval(days => it.late_days))
            ORDER BY x.entry_at DESC LIMIT 1 FOR UPDATE;
            late := FOUND AND (j.operator = it.operator OR coalesce(it.partners ? j.operator, false))
                    AND j.status IN ('unfinished', 'repaired');
            paired := late;
        END IF;
        IF NOT paired AND coalesce(it.wait_for_entry, false) THEN
            -- its entry may still be on a gate: pair it once that arrives
            decision := 'wait'; reason := 'no_entry_yet'; RETURN NEXT; CONTINUE;
        END IF;
        IF NOT paired THEN
            IF it.orphan_exit <> 'max_fare' OR other_open THEN
                decision := 'deny'; reason := 'wrong_direction'; RETURN NEXT; CONTINUE;
            END IF;
            j := NULL;
            jid := it.journey_id;
        ELSE
            jid := j.id; journey_operator := j.operator;
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
        ELSIF late AND j.status = 'repaired' THEN
            -- repaired meanwhile: the rider's word stands, the tap is kept with the journey
            decision := 'open'; reason := NULL; journey_id := jid; journey_status := 'repaired';
            RETURN NEXT; CONTINUE;
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
