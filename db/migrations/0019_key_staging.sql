-- Keys published before they sign (issue 15, item 9). `keys rotate` stages a new key: gates
-- download it at once and it signs only from `not_before` (key_lead_hours later); the key it
-- replaces gets `retired_at` = that instant, and `verifies_until` = retired_at plus its issuer's
-- presentable horizon. At most one key per issuer has no retirement set (the newest).
ALTER TABLE issuer_keys ADD COLUMN not_before timestamptz;
UPDATE issuer_keys SET not_before = created_at;
ALTER TABLE issuer_keys ALTER COLUMN not_before SET NOT NULL;
CREATE INDEX issuer_keys_signing ON issuer_keys (issuer, not_before DESC) WHERE compromised_at IS NULL;
