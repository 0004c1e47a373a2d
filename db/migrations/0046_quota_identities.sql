-- Quotas per person, second pass (issue 11): a booking counts against every identity it
-- touches: the document's person and, for the rider's own document, the rider's other own
-- documents and the account (a family member's document is that person alone). So an account
-- is not a second person beside its own document, and one person's Macao ID and Home Return
-- Permit are one person. person_key stays the document's own key (the desk checks a typed
-- number against it); person_keys holds them all, and the quota counts the appointments sharing
-- any of them.
ALTER TABLE appointments ADD COLUMN person_keys text[];
UPDATE appointments a SET person_keys = CASE
        WHEN a.person_key LIKE 'doc:%' AND EXISTS (
            SELECT 1 FROM documents d WHERE d.id = a.document_id AND d.holder = 'self'
        ) THEN ARRAY[a.person_key, 'account:' || a.user_id]
        ELSE ARRAY[a.person_key]
    END
    WHERE a.person_key IS NOT NULL;
DROP INDEX appointments_quota;
CREATE INDEX appointments_quota_keys ON appointments USING gin (person_keys)
    WHERE status NOT IN ('cancelled', 'rescheduled');
