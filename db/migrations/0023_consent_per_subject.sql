-- Consent per data subject (issue 10 item 14): a rider holds documents of family members
-- travelling with them; each such person's data goes abroad on their own consent, which the
-- rider records on their behalf for their document, not on the account holder's consent.

-- Whose document it is: the rider's own, or another person's (a family member's).
ALTER TABLE documents ADD COLUMN holder text NOT NULL DEFAULT 'self' CHECK (holder IN ('self', 'other'));

-- A consent is the account holder's own (document_id NULL) or given on behalf of the holder of
-- one document (kept as an opaque id: the document may be deleted, the consent is evidence).
ALTER TABLE consents ADD COLUMN document_id text;
DROP INDEX consents_one_active;
CREATE UNIQUE INDEX consents_one_active ON consents (user_id, destination, purpose, coalesce(document_id, ''))
    WHERE withdrawn_at IS NULL;
