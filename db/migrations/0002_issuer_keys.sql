-- Issuers' signing keys (ride codes, tickets, appointment QR codes). The private key is sealed
-- by the application under a configured key; the public key is what gates download.

CREATE TABLE issuer_keys (
    kid                text PRIMARY KEY,          -- "<issuer>-<number>", inside every signed code
    issuer             text NOT NULL,
    key_number         integer NOT NULL CHECK (key_number > 0),
    algorithm          text NOT NULL CHECK (algorithm IN ('ES256', 'Ed25519')),
    public_key         bytea NOT NULL,            -- raw: X9.62 uncompressed point, or 32 bytes
    private_key_sealed bytea NOT NULL,
    created_at         timestamptz NOT NULL,
    retired_at         timestamptz,               -- stops signing; still verifies until verifies_until
    verifies_until     timestamptz,
    compromised_at     timestamptz,               -- verifies nothing any more
    UNIQUE (issuer, key_number)
);
-- At most one key signs for an issuer at a time.
CREATE UNIQUE INDEX issuer_keys_one_signing ON issuer_keys (issuer) WHERE retired_at IS NULL;
