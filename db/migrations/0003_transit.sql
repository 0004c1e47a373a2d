-- Transit ride codes: ride accounts (the opaque token codes carry instead of personal data),
-- device credentials for offline codes, journeys, the taps that opened gates, and the deny
-- list gates download as versioned deltas.

CREATE TABLE ride_accounts (
    account_token bytea PRIMARY KEY CHECK (length(account_token) = 8),
    user_id       text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    retired_at    timestamptz
);
CREATE UNIQUE INDEX ride_accounts_current ON ride_accounts (user_id) WHERE retired_at IS NULL;

CREATE TABLE ride_credentials (
    credential_id     bytea PRIMARY KEY CHECK (length(credential_id) = 8),
    account_token     bytea NOT NULL REFERENCES ride_accounts (account_token),
    device_public_key bytea NOT NULL,
    valid_from        timestamptz NOT NULL,
    valid_until       timestamptz NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    revoked_at        timestamptz,
    CHECK (valid_until > valid_from)
);
CREATE INDEX ride_credentials_account ON ride_credentials (account_token);

CREATE TABLE journeys (
    id              text PRIMARY KEY,
    account_token   bytea NOT NULL,
    user_id         text NOT NULL REFERENCES users (id),
    operator        text NOT NULL,
    category        text NOT NULL,
    status          text NOT NULL CHECK (status IN ('open', 'completed', 'unfinished', 'repaired')),
    entry_station   text,            -- NULL: a tap-out without tap-in charged by the operator's rule
    entry_at        timestamptz,
    exit_station    text,
    exit_at         timestamptz,
    fare_amount     integer CHECK (fare_amount >= 0),  -- in the operator's currency
    fare_currency   text,
    fare_rule       text,
    charge_amount   integer CHECK (charge_amount >= 0), -- in the rider's wallet currency
    charge_currency text,
    fx_rate         numeric(20, 10),
    fx_source       text,
    charge_status   text NOT NULL DEFAULT 'none'
                    CHECK (charge_status IN ('none', 'held', 'pending', 'charging', 'charged', 'failed')),
    charge_reference text,           -- the payment provider's reference
    charged_at      timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (entry_station IS NOT NULL OR exit_station IS NOT NULL)
);
-- One open journey per account: the database, not the gates, decides who won a race.
CREATE UNIQUE INDEX journeys_one_open ON journeys (account_token) WHERE status = 'open';
CREATE INDEX journeys_user ON journeys (user_id, id DESC);
CREATE INDEX journeys_open_since ON journeys (entry_at) WHERE status = 'open';
CREATE INDEX journeys_unfinished ON journeys (user_id) WHERE status = 'unfinished';
CREATE INDEX journeys_to_charge ON journeys (updated_at)
    WHERE charge_status IN ('held', 'pending', 'charging');
CREATE INDEX journeys_settlement ON journeys (operator, coalesce(exit_at, entry_at))
    WHERE fare_amount IS NOT NULL;

CREATE TABLE taps (
    tap_id        text PRIMARY KEY,  -- the gate's id for offline taps, ours for online scans
    operator      text NOT NULL,
    gate_id       text NOT NULL,
    station       text NOT NULL,
    direction     text NOT NULL CHECK (direction IN ('in', 'out')),
    code_key      text NOT NULL,
    account_token bytea NOT NULL,
    scanned_at    timestamptz NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT now(),
    source        text NOT NULL CHECK (source IN ('online', 'offline')),
    journey_id    text
);
-- A code opens one tap-in (and one tap-out), once, anywhere.
CREATE UNIQUE INDEX taps_code_once ON taps (code_key, direction);
CREATE INDEX taps_journey ON taps (journey_id);

CREATE TABLE deny_list (
    seq    bigserial PRIMARY KEY,
    kind   text NOT NULL CHECK (kind IN ('account', 'credential', 'key')),
    value  text NOT NULL,       -- hex of the account token or credential id, or a key id
    action text NOT NULL CHECK (action IN ('add', 'remove')),
    reason text,
    at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deny_list_latest ON deny_list (kind, value, seq DESC);

-- Records a batch of gate scans in one transaction (group commit) and decides each in order.
-- Items: idx, tap_id, journey_id (new id for a journey this tap may open), operator, gate_id,
-- station, direction, code_key, account (hex), credential (hex, device codes), scanned_at,
-- source, tap_out (does the operator
-- take tap-outs), orphan_exit ('deny' or 'max_fare': a tap-out without tap-in).
-- The caller prices completed journeys and writes the fares before committing.
CREATE FUNCTION record_scans(items jsonb)
RETURNS TABLE (
    idx int, decision text, reason text, journey_id text, journey_status text,
    user_id text, category text, wallet_currency text,
    entry_station text, entry_at timestamptz, previous_operator text, previous_ended_at timestamptz
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
BEGIN
    FOR it IN
        SELECT * FROM jsonb_to_recordset(items) AS x(
            idx int, tap_id text, journey_id text, operator text, gate_id text, station text,
            direction text, code_key text, account text, credential text, scanned_at timestamptz,
            source text,
            tap_out boolean, orphan_exit text)
        ORDER BY x.idx
    LOOP
        idx := it.idx; journey_id := NULL; journey_status := NULL; entry_station := NULL;
        entry_at := NULL; previous_operator := NULL; previous_ended_at := NULL;
        acct := decode(it.account, 'hex');
        SELECT a.user_id, u.category, u.wallet_currency INTO uid, cat, wallet
        FROM ride_accounts a JOIN users u ON u.id = a.user_id
        WHERE a.account_token = acct AND a.retired_at IS NULL;
        user_id := uid; category := cat; wallet_currency := wallet;
        IF uid IS NULL OR (
            SELECT d.action = 'add' FROM deny_list d
            WHERE d.kind = 'account' AND d.value = it.account ORDER BY d.seq DESC LIMIT 1
        ) THEN
            decision := 'deny'; reason := 'denied_account'; RETURN NEXT; CONTINUE;
        END IF;
        IF it.credential IS NOT NULL AND (
            (SELECT d.action = 'add' FROM deny_list d
             WHERE d.kind = 'credential' AND d.value = it.credential ORDER BY d.seq DESC LIMIT 1)
            OR NOT EXISTS (SELECT 1 FROM ride_credentials c
                           WHERE c.credential_id = decode(it.credential, 'hex')
                             AND c.account_token = acct AND c.revoked_at IS NULL)
        ) THEN
            decision := 'deny'; reason := 'revoked'; RETURN NEXT; CONTINUE;
        END IF;

        IF EXISTS (SELECT 1 FROM taps t WHERE t.code_key = it.code_key AND t.direction = it.direction) THEN
            decision := 'deny'; reason := 'replayed'; RETURN NEXT; CONTINUE;
        END IF;

        IF it.direction = 'in' THEN
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
            INSERT INTO journeys (id, account_token, user_id, operator, category, status,
                                  entry_station, entry_at)
            VALUES (it.journey_id, acct, uid, it.operator, cat, status_now, it.station, it.scanned_at)
            ON CONFLICT (account_token) WHERE status = 'open' DO NOTHING;
            IF NOT FOUND THEN
                DELETE FROM taps WHERE tap_id = it.tap_id;
                decision := 'deny'; reason := 'unfinished_journey'; RETURN NEXT; CONTINUE;
            END IF;
            SELECT x.operator, coalesce(x.exit_at, x.entry_at) INTO previous_operator, previous_ended_at
            FROM journeys x
            WHERE x.user_id = uid AND x.status IN ('completed', 'repaired') AND x.id <> it.journey_id
            ORDER BY coalesce(x.exit_at, x.entry_at) DESC LIMIT 1;
            decision := 'open'; reason := NULL; journey_id := it.journey_id; journey_status := status_now;
            entry_station := it.station; entry_at := it.scanned_at;
            RETURN NEXT; CONTINUE;
        END IF;

        -- tap-out
        SELECT * INTO j FROM journeys x
        WHERE x.account_token = acct AND x.status = 'open' FOR UPDATE;
        IF NOT FOUND OR j.operator <> it.operator THEN
            IF it.orphan_exit <> 'max_fare' OR FOUND THEN
                decision := 'deny'; reason := 'wrong_direction'; RETURN NEXT; CONTINUE;
            END IF;
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
