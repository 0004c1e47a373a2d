-- Through journeys (issue 9, section 2): a journey entering at one operator of a through-fare
-- rule and leaving at another is one journey (bayaffairs/transit/through.py).
--
-- * journeys.share_weights: {operator: weight} of a through journey whose revenue is split (its
--   metres on each operator's lines, or the rule's fixed weights); NULL: all the fare is the
--   journey's operator's (the one it entered at). Weights, not amounts: a fare that changes later
--   is split by the same rule.
-- * journey_share(fare, weights, op): operator op's part, in whole minor units: floor(fare x
--   weight / total), the units left over one each to the largest weights (ties: the lower operator
--   id, in byte order). The parts add up to the fare. The same rule as through.split() in Python.
-- * record_scans(): a tap-out pairs with the rider's open (or late: unfinished) journey of its own
--   operator or of one of the item's `partners` (the other members of its rule), and returns the
--   journey's operator (`journey_operator`: the one it entered at) for pricing.
--
-- record_scans() as in 0035_journey_lifecycle.sql with those changes. Whoever redefines it next:
-- start from this body.

ALTER TABLE journeys ADD COLUMN share_weights jsonb;

-- Settlement reads an operator's journeys in two parts (db/queries/settlements.py, _SETTLED):
-- its own, not split, and the through journeys it has a share of; a page of each is an index
-- range from the cursor on.
CREATE INDEX journeys_settlement_own ON journeys (operator, (coalesce(exit_at, entry_at)), id)
    WHERE fare_amount IS NOT NULL AND share_weights IS NULL;
CREATE INDEX journeys_through_settlement ON journeys ((coalesce(exit_at, entry_at)), id)
    WHERE fare_amount IS NOT NULL AND share_weights IS NOT NULL;
CREATE INDEX journeys_through_changed ON journeys (updated_at) WHERE share_weights IS NOT NULL;

CREATE FUNCTION journey_share(fare integer, weights jsonb, op text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    WITH w AS (
        SELECT key, value::bigint AS weight FROM jsonb_each_text(weights)
    ), parts AS (
        SELECT key, weight, (fare::bigint * weight) / (SELECT sum(weight) FROM w)::bigint AS part,
               row_number() OVER (ORDER BY weight DESC, key COLLATE "C") AS rank
        FROM w
    )
    SELECT (part + CASE WHEN rank <= fare - (SELECT sum(part) FROM parts)::bigint THEN 1 ELSE 0 END)::integer
    FROM parts WHERE key = op
$$;

DROP FUNCTION record_scans(jsonb);

CREATE FUNCTION record_scans(items jsonb)
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
BEGIN
    FOR it IN
        SELECT * FROM jsonb_to_recordset(items) AS x(
            idx int, tap_id text, journey_id text, operator text, gate_id text, station text,
            direction text, code_key text, account text, credential text, scanned_at timestamptz,
            source text, tap_out boolean, orphan_exit text, double_tap int, wait_for_entry boolean,
            skew int, partners jsonb,
            fares jsonb, currency text, charges jsonb)
        ORDER BY x.idx
    LOOP
        idx := it.idx; journey_id := NULL; journey_status := NULL; entry_station := NULL;
        entry_at := NULL; previous_operator := NULL; previous_ended_at := NULL;
        fare_amount := NULL; fare_currency := NULL; fare_rule := NULL;
        charge_amount := NULL; charge_currency := NULL; fx_rate := NULL; fx_source := NULL;
        late := false; journey_operator := it.operator;
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
            IF EXISTS (SELECT 1 FROM journeys x WHERE x.account_token = acct AND x.status = 'open') THEN
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
        ours := FOUND AND (j.operator = it.operator OR coalesce(it.partners ? j.operator, false));
        paired := ours AND j.entry_at <= it.scanned_at + make_interval(secs => coalesce(it.skew, 0));
        other_open := FOUND AND NOT ours;
        IF NOT paired AND NOT other_open THEN
            -- A late tap-out: the rider's last entry before it is a journey of this operator
            -- already closed as unfinished (or repaired): the tap completes that journey.
            SELECT * INTO j FROM journeys x
            WHERE x.account_token = acct AND x.entry_at <= it.scanned_at
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
