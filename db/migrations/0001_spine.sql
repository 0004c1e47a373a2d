-- The service's spine: users and their sign-in identities, credentials (rider sessions and
-- CLI-issued device, staff and admin tokens; only hashes stored), travel documents (numbers
-- encrypted by the application), consents for cross-border transfers, Idempotency-Key records.

CREATE TABLE users (
    id              text PRIMARY KEY,
    display_name    text,
    category        text NOT NULL DEFAULT 'adult'
                    CHECK (category IN ('adult', 'child', 'student', 'elderly')),
    wallet_currency text CHECK (wallet_currency IN ('CNY', 'HKD', 'MOP')),
    wallet_provider text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((wallet_currency IS NULL) = (wallet_provider IS NULL))
);

CREATE TABLE user_identities (
    provider      text NOT NULL,
    subject       text NOT NULL,
    user_id       text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_login_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, subject)
);
CREATE INDEX user_identities_user ON user_identities (user_id);

CREATE TABLE credentials (
    id          text PRIMARY KEY,
    kind        text NOT NULL
                CHECK (kind IN ('rider', 'gate', 'operator', 'carrier', 'counter', 'admin')),
    scope       text NOT NULL,
    secret_hash bytea NOT NULL,
    label       text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz,
    CHECK (expires_at > created_at)
);
CREATE INDEX credentials_kind_scope ON credentials (kind, scope);
CREATE INDEX credentials_expires ON credentials (expires_at);

CREATE TABLE documents (
    id                 text PRIMARY KEY,
    user_id            text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    type               text NOT NULL CHECK (type IN ('home_return_permit', 'exit_entry_permit',
                           'hkid', 'macao_id', 'mainland_id', 'passport')),
    holder_name        text NOT NULL,
    number_ciphertext  bytea NOT NULL,  -- AES-256-GCM, key id and nonce inside; never clear text
    number_fingerprint bytea NOT NULL,  -- keyed HMAC of the number: finds duplicates, reveals nothing
    number_masked      text NOT NULL,
    issuing            text NOT NULL,
    expires            date NOT NULL,
    date_of_birth      date,
    endorsements       jsonb NOT NULL DEFAULT '[]',
    created_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, type, number_fingerprint)
);
CREATE INDEX documents_user ON documents (user_id, created_at);

CREATE TABLE consents (
    id             text PRIMARY KEY,
    user_id        text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    destination    text NOT NULL CHECK (destination IN ('CN', 'HK', 'MO')),
    purpose        text NOT NULL,
    notice_version text NOT NULL,
    given_at       timestamptz NOT NULL DEFAULT now(),
    withdrawn_at   timestamptz
);
CREATE UNIQUE INDEX consents_one_active ON consents (user_id, destination, purpose)
    WHERE withdrawn_at IS NULL;
CREATE INDEX consents_user ON consents (user_id, given_at);

CREATE TABLE idempotency_keys (
    principal    text NOT NULL,
    key          text NOT NULL,
    fingerprint  bytea NOT NULL,
    state        text NOT NULL CHECK (state IN ('in_flight', 'done')),
    status       integer,
    body         bytea,
    content_type text,
    locked_until timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    PRIMARY KEY (principal, key),
    CHECK (state = 'in_flight' OR status IS NOT NULL)
);
CREATE INDEX idempotency_keys_expires ON idempotency_keys (expires_at);
