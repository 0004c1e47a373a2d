-- Riders' rights over their personal data (issue 16): who read a document number in clear,
-- exports a rider asked for, account deletions, and what retention needs.

-- A users row with erased_at set is no rider: it is the pseudonym an account deletion leaves
-- behind (what the law keeps refers to it), or `usr_anonymous`, the holder retention gives the
-- records it anonymises. Neither has a sign-in identity or a credential.
ALTER TABLE users ADD COLUMN erased_at timestamptz;

-- Every read of a document number in clear: the rider sees theirs (GET /v1/me/access-log).
-- Written in the transaction that decrypts, so no number is read without its record.
CREATE TABLE personal_data_access (
    id            text PRIMARY KEY,
    user_id       text NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    document_id   text NOT NULL,           -- whose number: the document (it may be gone since)
    document_type text NOT NULL,
    holder_name   text NOT NULL,
    number_masked text NOT NULL,
    reader_kind   text NOT NULL CHECK (reader_kind IN ('rider', 'carrier', 'counter', 'agency', 'admin')),
    reader        text NOT NULL,           -- carrier, centre or agency id; the credential for riders and admins
    reader_name   text,
    purpose       text NOT NULL,           -- export, carrier_confirmation, boarding_check, counter_check
    reference     text,                    -- the booking, appointment or export it served
    accessed_at   timestamptz NOT NULL
);
CREATE INDEX personal_data_access_user ON personal_data_access (user_id, id);
CREATE INDEX personal_data_access_time ON personal_data_access (accessed_at);

-- Exports built in the background (large ones): progress, then the file, sealed at rest under
-- the documents key (it may hold document numbers in clear), until expires_at.
CREATE TABLE data_exports (
    id            text PRIMARY KEY,
    user_id       text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    format        text NOT NULL CHECK (format IN ('json', 'zip')),
    numbers       text NOT NULL CHECK (numbers IN ('masked', 'clear')),
    status        text NOT NULL CHECK (status IN ('queued', 'running', 'ready', 'failed')),
    done          integer NOT NULL DEFAULT 0,
    total         integer NOT NULL DEFAULT 0,
    content       bytea,
    content_type  text,
    size_bytes    integer,
    lease_until   timestamptz,             -- the worker building it; past this another takes over
    attempts      integer NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL
);
CREATE INDEX data_exports_user ON data_exports (user_id, created_at);
CREATE INDEX data_exports_pending ON data_exports (lease_until) WHERE status IN ('queued', 'running');
CREATE INDEX data_exports_expiry ON data_exports (expires_at);

-- Account deletions: asked (a confirmation code, for the session that asked), then under way
-- (access closed at once; cancellations may wait for a partner), then done. Once done, nothing
-- here names the rider: user_id is gone with the users row, and the pseudonym is all that links
-- the records the law keeps.
CREATE TABLE account_deletions (
    id            text PRIMARY KEY,
    user_id       text REFERENCES users (id) ON DELETE SET NULL,
    credential_id text NOT NULL,
    code_hash     bytea NOT NULL,
    status        text NOT NULL CHECK (status IN ('requested', 'deleting', 'done')),
    pseudonym     text,
    outcome       jsonb NOT NULL DEFAULT '{}',
    attempts      integer NOT NULL DEFAULT 0,
    last_error    text,
    next_attempt_at timestamptz,
    requested_at  timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,    -- of the confirmation code
    started_at    timestamptz,
    finished_at   timestamptz
);
CREATE UNIQUE INDEX account_deletions_one_running ON account_deletions (user_id) WHERE status = 'deleting';
CREATE INDEX account_deletions_due ON account_deletions (next_attempt_at) WHERE status = 'deleting';
CREATE INDEX account_deletions_finished ON account_deletions (finished_at) WHERE status = 'done';
